/**
 * How right the counts are on real footage with published ground truth. For every sequence under
 * ../shared/data/mot15 (or MOT15_DIR) with a video (video/<SEQ>.mp4), ground truth (train/<SEQ>/gt/gt.txt) and
 * a layout (layouts/<SEQ>.json): detect every frame once with each model, then track and count with each
 * tracker at every frame and detecting 10 and 5 frames per second (the first model also with motion gating and
 * without re-linking, and with the hybrid tracker told who each detection is: the bound on what any appearance cue
 * could give it; the others with the default tracker only), and print MOTA, IDF1, ID switches, false
 * positives and negatives, track ids and people counted against the people in the ground truth, count accuracy,
 * frames detected and speed, and each model's milliseconds per frame. A rate below the video's is run from each
 * frame of its first interval in turn (5 starts at 5 per second of a 25 fps video) and its figures are the mean:
 * which frames a camera happens to detect changes the counts by several, so one start alone says little.
 *
 * Count accuracy is 1 − Σ|counted − true| / Σ true over every zone's entries and exits and every line's in and
 * out; the true counts are what the same zone engine counts on the ground-truth tracks (rows with confidence 0
 * ignored, no re-linking: ground-truth ids never break), so only detection and tracking errors show.
 * Usage: node dist/bench/accuracy.js [model.onnx ...]   (default: each of YOLOv8n, s and m in models/, as
 * `retail-analytics fetch-model --model NAME` puts them there)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ZoneAnalytics, type ZoneLayout, type ZoneOptions } from '../src/analytics/zones';
import { ffmpegExecutable, probeFrameRate, readVideoFile } from '../src/camera/ffmpeg';
import { APPEARANCE_BINS, appearanceOf } from '../src/detection/appearance';
import { parseClassList } from '../src/detection/classes';
import { DEFAULT_MOTION_OPTIONS } from '../src/detection/motion';
import { CameraSchedule, DEFAULT_KEEP_ALIVE_SECONDS, detectionRate, DEFAULT_SCHEDULE_OPTIONS, type Decision, type ScheduleOptions } from '../src/detection/schedule';
import { Detector } from '../src/detection/detector';
import { DEFAULT_MODEL_PATH, packageModelPath, YoloModel } from '../src/detection/model';
import { MODEL_NAMES } from '../src/detection/model-fetch';
import { finishCounting, RecordingCounter, type CountReport } from '../src/pipeline/offline';
import { evaluateMot, type MotMetrics } from '../src/tracking/metrics';
import { matchWithCostLimit } from '../src/tracking/assignment';
import { iou } from '../src/tracking/iou';
import { parseMot, tracksByFrame, type MotRow } from '../src/tracking/mot';
import { RECOMMENDED_DETECTION_CONFIDENCE, RECOMMENDED_TRACKER, type TrackerSettings } from '../src/tracking/trackers';
import type { Box, Detection } from '../src/types';

/** Time spent on colour histograms, and how many were made: their cost per person. */
let appearanceMs = 0;
let appearances = 0;

const data = process.env.MOT15_DIR ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'data', 'mot15');

interface Configuration {
  name: string;
  what: string;
  tracker: TrackerSettings;
  /** Detections scoring above this reach the tracker. */
  confidence: number;
  zones: Partial<ZoneOptions>;
  /** Which frames are detected, as yolo-detect chooses them. */
  schedule: ScheduleOptions;
  /** Detections keep their colour histograms (yolo-detect's Colours ticked). */
  colours?: boolean;
  /** Detections carry their ground-truth person where the colours go (see groundTruthIdentities). */
  identities?: boolean;
}

const FIVE_FPS: ScheduleOptions = { ...DEFAULT_SCHEDULE_OPTIONS, detectFps: 5 };
const TEN_FPS: ScheduleOptions = { ...DEFAULT_SCHEDULE_OPTIONS, detectFps: 10 };
const GATED: ScheduleOptions = { ...DEFAULT_SCHEDULE_OPTIONS, motion: DEFAULT_MOTION_OPTIONS };
const FIVE_FPS_GATED: ScheduleOptions = { ...FIVE_FPS, motion: DEFAULT_MOTION_OPTIONS };
const everyFrame = DEFAULT_SCHEDULE_OPTIONS;
const RATES: [label: string, schedule: ScheduleOptions][] = [
  ['', everyFrame],
  [', 10 fps', TEN_FPS],
  [', 5 fps', FIVE_FPS],
];

/** Each tracker with the detection confidence it is fed, as sort-track and yolo-detect would run it. */
const TRACKERS: { name: string; what: string; tracker: TrackerSettings; confidence: number; colours?: boolean; identities?: boolean }[] = [
  { name: 'default', what: "the nodes' defaults (the hybrid tracker)", tracker: RECOMMENDED_TRACKER, confidence: RECOMMENDED_DETECTION_CONFIDENCE },
  { name: 'bytetrack', what: 'ByteTrack 0.6/0.9/30 (the default until 0.x)', tracker: { algorithm: 'bytetrack', trackThresh: 0.6, matchThresh: 0.9, trackBuffer: 30 }, confidence: 0.1 },
  { name: 'hybrid + colours', what: "the hybrid tracker given each person's colours (yolo-detect's Colours)", tracker: { algorithm: 'hybrid' }, confidence: 0.1, colours: true },
  {
    name: 'hybrid + identities',
    what: "the hybrid tracker told who each detection is (the ground truth's person in place of the colours): the most an appearance cue could give it",
    tracker: { algorithm: 'hybrid' },
    confidence: 0.1,
    identities: true,
  },
  { name: 'ocsort', what: "OC-SORT with its authors' settings", tracker: { algorithm: 'ocsort' }, confidence: 0.1 },
  { name: 'sort', what: 'SORT 30/3/0.3 on detections > 0.5', tracker: { algorithm: 'sort' }, confidence: 0.5 },
];

const product = { tracker: RECOMMENDED_TRACKER, confidence: RECOMMENDED_DETECTION_CONFIDENCE, zones: {} };

const CONFIGURATIONS: Configuration[] = [
  ...TRACKERS.flatMap((t) =>
    RATES.map(([rate, schedule]) => ({
      name: `${t.name}${rate}`,
      what: `${t.what}${rate ? `, detecting${rate.slice(1)}` : ', every frame detected'}`,
      tracker: t.tracker,
      confidence: t.confidence,
      colours: t.colours,
      identities: t.identities,
      zones: {},
      schedule,
    })),
  ),
  { name: 'default, gated', what: `the defaults with motion gating (keep-alive ${DEFAULT_KEEP_ALIVE_SECONDS} s)`, ...product, schedule: GATED },
  { name: 'default, 5 fps, gated', what: 'the defaults detecting 5 frames per second with motion gating', ...product, schedule: FIVE_FPS_GATED },
  { name: 'default, no re-link', what: 'the defaults without continuing lost tracks', ...product, zones: { relinkSeconds: 0 }, schedule: everyFrame },
  ...[10, 25].map((boostFps) => ({
    name: `default, 5 fps, ${boostFps} near`,
    what: `the defaults detecting 5 frames per second, ${boostFps} while someone is within a second's walk of a line or zone edge`,
    ...product,
    schedule: { ...FIVE_FPS, boostFps },
  })),
];

interface Phase {
  /** The first frame (0-based) the camera sends: the sequence as if switched on that many frames late. */
  start: number;
  /** Indexed by frame; the frames before start are not used. */
  decisions: Decision[];
}

/** A rate below the camera's lands on other frames depending on where it starts: each start counts alike. */
function phaseCount(schedule: ScheduleOptions, frameRate: number): number {
  return schedule.detectFps > 0 && schedule.detectFps < frameRate ? Math.ceil(frameRate / schedule.detectFps) : 1;
}

interface Sequence {
  name: string;
  video: string;
  groundTruth: MotRow[];
  layout: ZoneLayout;
  frameRate: number;
  detections: Detection[][];
  /** Per frame and detection, its ground-truth person as an appearance (groundTruthIdentities). */
  identities: (number[] | null)[][];
  /**
   * For each schedule, which frames it detects, once per phase: a fixed rate below the camera's is run from each
   * of the frames of its first interval (the phase), since which frames it lands on changes what it sees.
   */
  phases: Map<ScheduleOptions, Phase[]>;
  size: { width: number; height: number };
  detectMs: number;
}

/**
 * Who each detection is, as an appearance the hybrid tracker's colour veto reads: one bin per ground-truth person
 * (ids sharing a bin, every APPEARANCE_BINS-th, look alike), so two different people are as far apart as colours can
 * be and the same person identical. Detections and people are paired one to one by overlap (IoU ≥ 0.5), as the
 * trackers pair boxes; the detections left (false positives, half a person) carry none, as a detection without
 * colours.
 */
function groundTruthIdentities(detections: readonly Detection[], people: readonly { id: number; bbox: Box }[]): (number[] | null)[] {
  const cost = new Float64Array(detections.length * people.length);
  detections.forEach((d, i) => people.forEach((person, j) => (cost[i * people.length + j] = 1 - iou(d.bbox, person.bbox))));
  const identities: (number[] | null)[] = detections.map(() => null);
  for (const [i, j] of matchWithCostLimit(cost, detections.length, people.length, 0.5).pairs) {
    identities[i] = Array.from({ length: APPEARANCE_BINS }, (_, bin) => (bin === people[j].id % APPEARANCE_BINS ? 1 : 0));
  }
  return identities;
}

/** The counts as one list of numbers, in a fixed order, for comparison. */
function countsOf(report: CountReport): number[] {
  return [...report.zones.flatMap((z) => [z.totalEntries, z.totalExits]), ...report.lines.flatMap((l) => [l.in, l.out])];
}

/** A count or a mean of counts: whole numbers as they are, others to a tenth. */
const figure = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

function trueCounts(sequence: Sequence, start: number): number[] {
  const analytics = new ZoneAnalytics(sequence.layout, { relinkSeconds: 0 });
  const byFrame = tracksByFrame(sequence.groundTruth);
  for (let frame = start + 1; frame <= sequence.detections.length; frame++) {
    analytics.update(byFrame[frame] ?? [], ((frame - 1) / sequence.frameRate) * 1000, sequence.size, frame);
  }
  return countsOf(finishCounting(analytics));
}

interface Outcome {
  metrics: MotMetrics;
  trackIds: number;
  people: number;
  errors: number;
  truth: number;
  trackMs: number;
  detected: number;
}

function evaluate(sequence: Sequence, configuration: Configuration, { start, decisions }: Phase, truth: readonly number[]): Outcome {
  // A faster rate near lines depends on where the tracks are: decided as the frames are counted, as yolo-detect does.
  const planner = configuration.schedule.boostFps > 0 ? new CameraSchedule(configuration.schedule) : null;
  // As sort-track with a blank frame rate: ByteTrack runs at the rate frames are detected.
  const trackerRate = detectionRate(configuration.schedule.detectFps, sequence.frameRate)!;
  const settings = configuration.tracker.algorithm === 'bytetrack' ? { frameRate: trackerRate, ...configuration.tracker } : configuration.tracker;
  const counter = new RecordingCounter(settings, sequence.frameRate, sequence.layout, configuration.zones);
  const rows: MotRow[] = [];
  const detectedFrames = new Set<number>();
  const started = performance.now();
  sequence.detections.forEach((detections, i) => {
    if (i < start) return;
    const decision = planner ? planner.decide((i / sequence.frameRate) * 1000, null, counter.analytics!.wantsFasterDetection) : decisions[i];
    if (decision !== 'detect') return counter.skip();
    detectedFrames.add(i + 1);
    const fed = detections
      .map((d, k) => ({ ...d, appearance: configuration.identities ? sequence.identities[i][k] : configuration.colours ? d.appearance : null }))
      .filter((d) => d.score > configuration.confidence);
    const tracks = counter.next(fed, sequence.size);
    for (const t of tracks) {
      const [x, y, w, h] = t.topLeftSize();
      rows.push({ frame: i + 1, id: t.id, x, y, w, h, score: 1 });
    }
  });
  const trackMs = performance.now() - started;
  const people = counter.analytics!.peopleSeen;
  const counted = countsOf(counter.finish());
  const errors = counted.reduce((sum, n, k) => sum + Math.abs(n - truth[k]), 0);
  return {
    // Scored on the frames it detected: the others have no output of their own.
    metrics: evaluateMot(sequence.groundTruth.filter((r) => detectedFrames.has(r.frame)), rows),
    trackIds: new Set(rows.map((r) => r.id)).size,
    people,
    errors,
    truth: truth.reduce((s, n) => s + n, 0),
    trackMs,
    detected: detectedFrames.size,
  };
}

async function load(name: string, detector: Detector, classes: ReadonlySet<number> | null): Promise<Sequence> {
  const video = path.join(data, 'video', `${name}.mp4`);
  const seqinfo = path.join(data, 'train', name, 'seqinfo.ini');
  const declared = existsSync(seqinfo) ? Number(/frameRate=(\d+(?:\.\d+)?)/.exec(readFileSync(seqinfo, 'utf8'))?.[1]) : NaN;
  const frameRate = Number.isFinite(declared) && declared > 0 ? declared : ((await probeFrameRate(ffmpegExecutable(), video)) ?? 25);
  const groundTruth = parseMot(readFileSync(path.join(data, 'train', name, 'gt', 'gt.txt'), 'utf8')).filter((r) => r.score >= 1);
  const peopleByFrame = tracksByFrame(groundTruth);
  const detections: Detection[][] = [];
  let size = { width: 0, height: 0 };
  let detectMs = 0;
  const phases = new Map<ScheduleOptions, Phase[]>();
  const planners = new Map<Phase, CameraSchedule>();
  for (const schedule of new Set(CONFIGURATIONS.map((c) => c.schedule))) {
    const starts = Array.from({ length: phaseCount(schedule, frameRate) }, (_, start): Phase => ({ start, decisions: [] }));
    phases.set(schedule, starts);
    // A faster rate near lines is decided as the frames are counted (see evaluate).
    if (schedule.boostFps === 0) for (const phase of starts) planners.set(phase, new CameraSchedule(schedule));
  }
  for await (const image of readVideoFile(video)) {
    const at = (detections.length / frameRate) * 1000;
    for (const [phase, planner] of planners) phase.decisions.push(detections.length < phase.start ? 'rate' : planner.decide(at, image));
    size = { width: image.width, height: image.height };
    const started = performance.now();
    const result = await detector.detect(image, { confidence: Math.min(...CONFIGURATIONS.map((c) => c.confidence)), iou: 0.45, classes, maxDetections: 300 });
    detectMs += performance.now() - started;
    const coloured = performance.now();
    for (const detection of result.detections) detection.appearance = appearanceOf(image, detection.bbox);
    appearanceMs += performance.now() - coloured;
    appearances += result.detections.length;
    detections.push(result.detections);
  }
  return {
    name,
    video,
    groundTruth,
    layout: JSON.parse(readFileSync(path.join(data, 'layouts', `${name}.json`), 'utf8')) as ZoneLayout,
    frameRate,
    detections,
    identities: detections.map((frame, i) => groundTruthIdentities(frame, peopleByFrame[i + 1] ?? [])),
    phases,
    size,
    detectMs,
  };
}

async function main(): Promise<void> {
  if (!existsSync(path.join(data, 'video'))) {
    console.log(`bench/accuracy: skipped, no videos under ${data} (the shared test data; set MOT15_DIR)`);
    return;
  }
  const names = readdirSync(path.join(data, 'video'))
    .filter((f) => f.endsWith('.mp4'))
    .map((f) => f.slice(0, -4))
    .filter((name) => existsSync(path.join(data, 'train', name, 'gt', 'gt.txt')) && existsSync(path.join(data, 'layouts', `${name}.json`)))
    .sort();
  if (names.length === 0) {
    console.log(`bench/accuracy: skipped, no sequence under ${data} has a video, ground truth and a layout`);
    return;
  }
  const modelPaths = process.argv.length > 2 ? process.argv.slice(2) : MODEL_NAMES.map(packageModelPath).filter(existsSync);
  if (modelPaths.length === 0) throw new Error(`${DEFAULT_MODEL_PATH} not found: run "node dist/src/cli/main.js fetch-model"`);
  for (const file of modelPaths) if (!existsSync(file)) throw new Error(`${file} not found`);
  console.log(`bench/accuracy: ${names.join(', ')}; ${modelPaths.map((file) => path.basename(file, '.onnx')).join(', ')} at 640 px, NMS 0.45`);
  for (const c of CONFIGURATIONS) console.log(`  ${c.name.padEnd(24)} ${c.what}`);
  const header = `${'sequence'.padEnd(15)} ${'configuration'.padEnd(24)} ${'MOTA'.padStart(5)} ${'IDF1'.padStart(5)} ${'IDs'.padStart(4)} ${'FP'.padStart(4)} ${'FN'.padStart(4)}  ${'ids/people'.padStart(10)}  ${'counted'.padStart(7)}  ${'count acc'.padStart(9)}  ${'detected'.padStart(8)}  ${'frames/s'.padStart(8)}  counts off by start`;
  const totals = new Map<string, { errors: number; truth: number; idsPerPerson: number }>();
  const speeds: string[] = [];
  for (const [m, modelPath] of modelPaths.entries()) {
    const modelName = path.basename(modelPath, '.onnx');
    const model = await YoloModel.load(modelPath);
    const detector = new Detector(model);
    const classes = parseClassList('person', model.classNames);
    const sequences: Sequence[] = [];
    for (const name of names) sequences.push(await load(name, detector, classes));
    await model.release();
    const frames = sequences.reduce((n, q) => n + q.detections.length, 0);
    speeds.push(`${modelName} ${(sequences.reduce((ms, q) => ms + q.detectMs, 0) / frames).toFixed(0)} ms per frame`);
    // The first model gets every configuration; the others the default tracker at each rate.
    const configurations = m === 0 ? CONFIGURATIONS : CONFIGURATIONS.filter((c) => c.tracker === RECOMMENDED_TRACKER && !c.colours && c.schedule.motion === null && Object.keys(c.zones).length === 0);
    console.log(`${modelName}:`);
    console.log(header);
    for (const sequence of sequences) {
      const people = new Set(sequence.groundTruth.map((r) => r.id)).size;
      const truthFrom = new Map<number, number[]>();
      const truthAt = (start: number) => truthFrom.get(start) ?? truthFrom.set(start, trueCounts(sequence, start)).get(start)!;
      for (const configuration of configurations) {
        const outcomes = sequence.phases.get(configuration.schedule)!.map((phase) => evaluate(sequence, configuration, phase, truthAt(phase.start)));
        const mean = (value: (o: Outcome) => number) => outcomes.reduce((sum, o) => sum + value(o), 0) / outcomes.length;
        const [errors, truth, trackIds, detected] = [mean((o) => o.errors), mean((o) => o.truth), mean((o) => o.trackIds), mean((o) => o.detected)];
        const key = m === 0 ? configuration.name : `${modelName}, ${configuration.name}`;
        const total = totals.get(key) ?? { errors: 0, truth: 0, idsPerPerson: 0 };
        totals.set(key, { errors: total.errors + errors, truth: total.truth + truth, idsPerPerson: Math.max(total.idsPerPerson, trackIds / people) });
        const sequenceFrames = sequence.detections.length;
        const fps = sequenceFrames / ((sequence.detectMs * (detected / sequenceFrames) + mean((o) => o.trackMs)) / 1000);
        console.log(
          `${sequence.name.padEnd(15)} ${configuration.name.padEnd(24)} ${mean((o) => o.metrics.MOTA).toFixed(1).padStart(5)} ${mean((o) => o.metrics.IDF1).toFixed(1).padStart(5)} ` +
            `${figure(mean((o) => o.metrics.IDs)).padStart(4)} ${figure(mean((o) => o.metrics.FP)).padStart(4)} ${figure(mean((o) => o.metrics.FN)).padStart(4)}  ` +
            `${`${figure(trackIds)}/${people}`.padStart(10)}  ${figure(mean((o) => o.people)).padStart(7)}  ${`${(100 * (1 - errors / truth)).toFixed(1)} %`.padStart(9)}  ` +
            `${`${figure(detected)}/${sequenceFrames}`.padStart(8)}  ${fps.toFixed(1).padStart(8)}${outcomes.length > 1 ? `  ${outcomes.map((o) => o.errors).join(', ')}` : ''}`,
        );
      }
    }
  }
  console.log(`all sequences (${modelPaths.length > 1 ? `${path.basename(modelPaths[0], '.onnx')} unless named` : path.basename(modelPaths[0], '.onnx')}):`);
  for (const [name, { errors, truth, idsPerPerson }] of totals) {
    const accuracy = 100 * (1 - errors / truth);
    console.log(
      `  ${name.padEnd(24)} count accuracy ${accuracy.toFixed(1).padStart(5)} % (${figure(errors)} counts off of ${figure(truth)}: about ${Math.round(100 - accuracy)} of 100 visitors miscounted), ` +
        `track ids per person ${idsPerPerson.toFixed(2)} (worst sequence)`,
    );
  }
  console.log(`detection on this machine: ${speeds.join(', ')}`);
  console.log(`colour histograms (yolo-detect's Colours): ${((1000 * appearanceMs) / Math.max(1, appearances)).toFixed(0)} µs per person on this machine`);
  console.log('ids/people: track ids the tracker produced / people in the ground truth; counted: people the zone engine counted (track ids less those that continued a lost person)');
  console.log('detected: frames detected / frames of the sequence; MOTA, IDF1, IDs, FP and FN are scored on the frames detected');
  console.log(
    'at 10 and 5 fps every figure is the mean over the starts: the sequence run from each frame of the first interval (3 and 5 starts at 25 fps), ' +
      'as a camera switched on that much later; counts off by start lists each',
  );
  console.log('frames/s: frames of video per second of detection, tracking and counting on this machine (detection dominates)');
}

main().catch((err: Error) => {
  console.error(`bench/accuracy: ${err.message}`);
  process.exitCode = 1;
});
