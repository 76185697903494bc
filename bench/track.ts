/**
 * Tracker throughput: SORT on all MOT15 training sequences for max_age 1 and 30; ByteTrack and OC-SORT (the
 * four reference variants) on the YOLOv8n detections of TUD-Campus and TUD-Stadtmitte, beside the Python
 * references' speed from TRACKERS.md (detections parsed beforehand, output not written); p99 time per frame;
 * the cost of one frame with 50 and 200 people for each algorithm; and, for the assignment step alone, our
 * solver against munkres-js on the same matrices. Prints figures; never fails on speed.
 * Usage: node dist/bench/track.js [repeats=5]   (data: ../shared/data/mot15 or MOT15_DIR)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { solveAssignment } from '../src/tracking/assignment';
import { detectionsByFrame, parseMot } from '../src/tracking/mot';
import type { DetectionInput } from '../src/tracking/track';
import { createTracker, TRACKER_ALGORITHMS, type TrackerSettings } from '../src/tracking/trackers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const munkres: (matrix: number[][]) => [number, number][] = require('munkres-js');

const data = process.env.MOT15_DIR ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'data', 'mot15');
const repeats = Number(process.argv[2] ?? 5);

function percentile(samples: Float64Array, q: number): number {
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function runAll(sequences: DetectionInput[][][], settings: TrackerSettings): { fps: number; frames: number; p99Us: number } {
  const frameTimes: number[] = [];
  let frames = 0;
  let elapsed = 0;
  for (let r = 0; r < repeats; r++) {
    for (const frameList of sequences) {
      const tracker = createTracker(settings);
      for (let f = 1; f < frameList.length; f++) {
        const started = performance.now();
        tracker.update(frameList[f]);
        const took = performance.now() - started;
        elapsed += took;
        frameTimes.push(took);
        frames++;
      }
    }
  }
  return { fps: frames / (elapsed / 1000), frames, p99Us: percentile(Float64Array.from(frameTimes), 0.99) * 1000 };
}

/**
 * A crowd of `count` people walking right, spread over a 1920x1080 frame, for `frames` frames; one in seven
 * is half hidden (score 0.3) in any frame, which ByteTrack's second round and OC-SORT's re-matching handle.
 */
function crowd(count: number, frames: number): DetectionInput[][] {
  const columns = Math.ceil(Math.sqrt(count));
  return Array.from({ length: frames }, (_, f) =>
    Array.from({ length: count }, (_, i) => {
      const x = (i % columns) * (1800 / columns) + f * 2;
      const y = Math.floor(i / columns) * (1000 / columns);
      return { bbox: [x, y, x + 40, y + 90] as [number, number, number, number], score: (i + f) % 7 === 0 ? 0.3 : 0.9 };
    }),
  );
}

/** Mean and p99 milliseconds per frame once the tracks are established. */
function crowdCost(settings: TrackerSettings, people: number): { mean: number; p99: number } {
  const tracker = createTracker(settings);
  const times: number[] = [];
  for (const frame of crowd(people, 300)) {
    const started = performance.now();
    tracker.update(frame);
    times.push(performance.now() - started);
  }
  const steady = Float64Array.from(times.slice(50));
  return { mean: steady.reduce((s, v) => s + v, 0) / steady.length, p99: percentile(steady, 0.99) };
}

// Frames per second of the Python references inside update(), from TRACKERS.md (2 vCPU, NumPy/SciPy shims).
const PYTHON_REFERENCE_FPS: Record<string, Record<string, number>> = {
  bytetrack: { 'TUD-Campus': 1154, 'TUD-Stadtmitte': 1173 },
  'bytetrack-t06': { 'TUD-Campus': 1270, 'TUD-Stadtmitte': 1375 },
  ocsort: { 'TUD-Campus': 983, 'TUD-Stadtmitte': 925 },
  'ocsort-byte': { 'TUD-Campus': 807, 'TUD-Stadtmitte': 765 },
};

const REFERENCE_VARIANTS: [string, TrackerSettings][] = [
  ['bytetrack', { algorithm: 'bytetrack', trackThresh: 0.5, matchThresh: 0.8, frameRate: 25 }],
  ['bytetrack-t06', { algorithm: 'bytetrack', trackThresh: 0.6, matchThresh: 0.9, frameRate: 25 }],
  ['ocsort', { algorithm: 'ocsort' }],
  ['ocsort-byte', { algorithm: 'ocsort', useByte: true }],
];

function main(): void {
  if (!existsSync(path.join(data, 'train'))) {
    console.error(`bench/track: ${data}/train not found; set MOT15_DIR`);
    process.exitCode = 1;
    return;
  }
  const names = readdirSync(path.join(data, 'train')).sort();
  const sequences = names.map((name) => detectionsByFrame(parseMot(readFileSync(path.join(data, 'train', name, 'det', 'det.txt'), 'utf8'))));
  runAll(sequences, { algorithm: 'sort', maxAge: 1 });
  console.log(`bench/track: SORT on ${names.length} MOT15 sequences, ${sequences.reduce((s, q) => s + q.length - 1, 0)} frames, x${repeats}`);
  for (const [maxAge, reference] of [[1, 2200], [30, 1370]]) {
    const result = runAll(sequences, { algorithm: 'sort', maxAge });
    console.log(
      `  max_age ${String(maxAge).padStart(2)}: ${Math.round(result.fps).toLocaleString('en-US').padStart(8)} frames/s` +
        `  (${(result.fps / reference).toFixed(1)}x the Python reference's ~${reference.toLocaleString('en-US')})` +
        `  p99 ${result.p99Us.toFixed(1)} us/frame`,
    );
  }

  // The TUD files are short (71 and 179 frames): more rounds steady the figures.
  console.log(`ByteTrack and OC-SORT on the YOLOv8n detections of the TUD sequences (scores down to 0.1), x${repeats * 10}`);
  for (const sequence of ['TUD-Campus', 'TUD-Stadtmitte']) {
    const file = path.join(data, 'yolov8n', `${sequence}.txt`);
    if (!existsSync(file)) continue;
    const frames = detectionsByFrame(parseMot(readFileSync(file, 'utf8')));
    for (const [variant, settings] of REFERENCE_VARIANTS) {
      runAll([frames], settings);
      const result = runAll(Array.from({ length: 10 }, () => frames), settings);
      const reference = PYTHON_REFERENCE_FPS[variant][sequence];
      console.log(
        `  ${sequence.padEnd(15)} ${variant.padEnd(14)} ${Math.round(result.fps).toLocaleString('en-US').padStart(8)} frames/s` +
          `  (${(result.fps / reference).toFixed(1)}x the Python reference's ${reference.toLocaleString('en-US')})  p99 ${result.p99Us.toFixed(1)} us/frame`,
      );
    }
  }

  console.log('a crowd walking through a 1920x1080 view (one in seven half hidden), per frame once established:');
  for (const algorithm of TRACKER_ALGORITHMS) {
    crowdCost({ algorithm }, 50);
    const costs = [50, 200].map((people) => crowdCost({ algorithm }, people));
    console.log(
      `  ${algorithm.padEnd(10)} 50 people: mean ${costs[0].mean.toFixed(3)} ms, p99 ${costs[0].p99.toFixed(3)} ms;` +
        `  200 people: mean ${costs[1].mean.toFixed(3)} ms, p99 ${costs[1].p99.toFixed(3)} ms`,
    );
  }

  // The assignment step alone, dense IoU-like matrices of typical and large sizes.
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (const size of [10, 40]) {
    const matrices = Array.from({ length: 200 }, () => Float64Array.from({ length: size * size }, () => -random()));
    let started = performance.now();
    for (const m of matrices) solveAssignment(m, size, size);
    const ours = (performance.now() - started) / matrices.length;
    const nested = matrices.map((m) => Array.from({ length: size }, (_, i) => Array.from(m.subarray(i * size, (i + 1) * size))));
    started = performance.now();
    for (const m of nested) munkres(m);
    const theirs = (performance.now() - started) / matrices.length;
    console.log(`  assignment ${size}x${size}: ours ${(ours * 1000).toFixed(1)} us, munkres-js ${(theirs * 1000).toFixed(1)} us (${(theirs / ours).toFixed(1)}x)`);
  }
}

main();
