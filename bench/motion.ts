/**
 * What motion gating saves, and what it costs in counts. Two clips are counted with the full-pipeline
 * example's layout, every frame offered to detection, with and without the motion gate: vtest.avi (people in
 * view nearly all the time) and a quiet clip built from it: its 20-second passages with the last frame of each
 * held still for 30 s before the next (a shop between visitors). Each distinct frame is detected once
 * and its detections reused, so both runs see identical detections; the gate decides on the pixels of every
 * frame offered. Prints detector calls, calls saved and the counts of both runs.
 * Usage: node dist/bench/motion.js [model]
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { ZoneLayout } from '../src/analytics/zones';
import { readVideoFile } from '../src/camera/ffmpeg';
import { findSampleFile } from '../src/camera/source';
import { parseClassList } from '../src/detection/classes';
import { Detector } from '../src/detection/detector';
import { DEFAULT_MODEL_PATH, YoloModel } from '../src/detection/model';
import { DEFAULT_MOTION_OPTIONS } from '../src/detection/motion';
import { CameraSchedule, DEFAULT_SCHEDULE_OPTIONS } from '../src/detection/schedule';
import { RecordingCounter, type CountReport } from '../src/pipeline/offline';
import { RECOMMENDED_DETECTION_CONFIDENCE, RECOMMENDED_TRACKER } from '../src/tracking/trackers';
import type { Detection, RgbImage } from '../src/types';

const FRAME_RATE = 10;
const HOLD_SECONDS = 30;
const PASSAGE_SECONDS = 20;

interface Run {
  counter: RecordingCounter;
  schedule: CameraSchedule | null;
  offered: number;
  detected: number;
}

function newRun(layout: ZoneLayout, gated: boolean): Run {
  return {
    counter: new RecordingCounter(RECOMMENDED_TRACKER, FRAME_RATE, layout),
    schedule: gated ? new CameraSchedule({ ...DEFAULT_SCHEDULE_OPTIONS, motion: DEFAULT_MOTION_OPTIONS }) : null,
    offered: 0,
    detected: 0,
  };
}

function offer(run: Run, image: RgbImage, detections: readonly Detection[]): void {
  run.offered++;
  if (run.schedule && run.schedule.decide(run.counter.nextTime, image) !== 'detect') return run.counter.skip();
  run.detected++;
  run.counter.next(detections, { width: image.width, height: image.height });
}

const countsOf = (report: CountReport) => [
  ...report.zones.map((z) => `${z.id} ${z.totalEntries}/${z.totalExits}`),
  ...report.lines.map((l) => `${l.id} ${l.in}/${l.out}`),
];

async function main(): Promise<void> {
  const video = findSampleFile('vtest.avi');
  if (!video) {
    console.log('bench/motion: skipped, vtest.avi not found (Debian/Ubuntu: apt-get install opencv-doc)');
    return;
  }
  const flow = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'examples', 'full-pipeline.json'), 'utf8')) as { type: string; layout?: string }[];
  const layout = JSON.parse(flow.find((n) => n.type === 'zone-analytics')!.layout!) as ZoneLayout;
  const modelPath = process.argv[2] ?? DEFAULT_MODEL_PATH;
  if (!existsSync(modelPath)) throw new Error(`${modelPath} not found: run "node dist/src/cli/main.js fetch-model"`);
  const model = await YoloModel.load(modelPath);
  const detector = new Detector(model);
  const options = { confidence: RECOMMENDED_DETECTION_CONFIDENCE, iou: 0.45, classes: parseClassList('person', model.classNames), maxDetections: 300 };

  const clips = { 'vtest.avi': [newRun(layout, false), newRun(layout, true)], 'quiet clip': [newRun(layout, false), newRun(layout, true)] };
  let index = 0;
  for await (const image of readVideoFile(video)) {
    const { detections } = await detector.detect(image, options);
    for (const run of clips['vtest.avi']) offer(run, image, detections);
    const passageEnds = (index + 1) % (PASSAGE_SECONDS * FRAME_RATE) === 0;
    const repeats = passageEnds ? 1 + HOLD_SECONDS * FRAME_RATE : 1;
    for (let k = 0; k < repeats; k++) for (const run of clips['quiet clip']) offer(run, image, detections);
    index++;
  }
  await detector.close();

  console.log(`bench/motion: vtest.avi (${index} frames at ${FRAME_RATE} fps) and a quiet clip (its ${PASSAGE_SECONDS} s passages, each followed by ${HOLD_SECONDS} s of its last frame); every frame offered`);
  const { threshold, minArea, backgroundSeconds } = DEFAULT_MOTION_OPTIONS;
  console.log(`motion gate: threshold ${threshold}, smallest area ${minArea * 100} % of the frame, background ${backgroundSeconds} s, keep-alive ${DEFAULT_SCHEDULE_OPTIONS.keepAliveSeconds} s`);
  console.log(`${'clip'.padEnd(11)} ${'frames'.padStart(6)} ${'calls'.padStart(6)} ${'gated calls'.padStart(11)} ${'saved'.padStart(7)}  counts (entries/exits, in/out) without → with gating`);
  for (const [name, [plain, gated]] of Object.entries(clips)) {
    const without = countsOf(plain.counter.finish());
    const withGate = countsOf(gated.counter.finish());
    const saved = 1 - gated.detected / plain.detected;
    const same = without.every((c, i) => c === withGate[i]);
    console.log(
      `${name.padEnd(11)} ${String(plain.offered).padStart(6)} ${String(plain.detected).padStart(6)} ${String(gated.detected).padStart(11)} ${`${(100 * saved).toFixed(1)} %`.padStart(7)}  ` +
        `${without.join(', ')} → ${same ? 'the same' : withGate.join(', ')}`,
    );
  }
}

main().catch((err: Error) => {
  console.error(`bench/motion: ${err.message}`);
  process.exitCode = 1;
});
