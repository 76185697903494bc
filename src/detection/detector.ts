import { copyImage } from '../imaging/image';
import { fillInputTensor, letterboxImage, toSourceBox, type Letterbox } from '../imaging/letterbox';
import type { Detection, RgbImage } from '../types';
import { appearanceOf } from './appearance';
import { decodeYolov8, nonMaxSuppression } from './decode';
import type { ModelHealth, YoloModel } from './model';

export interface DetectOptions {
  /** Minimum class score; Ultralytics keeps scores strictly above it. */
  confidence: number;
  /** IoU above which a lower-scoring box of the same class is suppressed. */
  iou: number;
  /** Class ids to report, or null for every class. */
  classes: ReadonlySet<number> | null;
  maxDetections: number;
  /** Give each detection the colour histogram of its upper body (detection/appearance.ts), for the hybrid tracker. */
  appearance?: boolean;
}

export const DEFAULT_DETECT_OPTIONS: DetectOptions = { confidence: 0.5, iou: 0.45, classes: new Set([0]), maxDetections: 300 };

export interface DetectResult {
  detections: Detection[];
  /** Wall time of the network run this image was part of. */
  inferenceMs: number;
  /** Images that shared that run (several cameras arriving together). */
  batchSize: number;
}

interface Job {
  image: RgbImage;
  options: DetectOptions;
  stream: string | null;
  resolve: (result: DetectResult) => void;
  reject: (err: Error) => void;
}

/** A waiting request replaced by a newer one of the same stream (a camera's newer frame): not an error. */
export class SupersededError extends Error {
  constructor(readonly stream: string) {
    super(`a newer frame of "${stream}" replaced this one while it waited for the model`);
    this.name = 'SupersededError';
  }
}

/** One stream's use of the model over the usage window. */
export interface StreamUsage {
  stream: string;
  /** Images detected per second. */
  fps: number;
  /** Fraction of the model's busy time spent on this stream. */
  share: number;
  /** Since the detector started: images detected, and waiting images replaced by newer ones. */
  processed: number;
  superseded: number;
}

/** How loaded the model is, over the usage window. */
export interface DetectorUsage {
  /** Fraction of wall time a network run was in progress (0–1). */
  busy: number;
  /** Mean run time per image (a batched run's time shared by its images); null before the first run. */
  msPerImage: number | null;
  /** Images per second the model could detect if it never rested: 1000 / msPerImage. */
  ceilingFps: number | null;
  /** Images detected per second. */
  fps: number;
  /** Mean time per image the network itself ran, in its worker thread. */
  runMsPerImage: number | null;
  streams: StreamUsage[];
  windowSeconds: number;
}

interface StreamTotals {
  processed: number;
  superseded: number;
  /** When the stream was last served, as a count of turns; -1 never. */
  servedAt: number;
}

interface RunRecord {
  endedAt: number;
  ms: number;
  runMs: number;
  streams: (string | null)[];
}

/** Usage figures cover this much recent time. */
const USAGE_WINDOW_MS = 10_000;
/** Streams remembered for their turn and totals; beyond this the longest unserved is forgotten. */
const MAX_STREAMS = 1024;
/** After a call of latestFrames, how long streams' frames are copied for the next call, and how often. */
const LATEST_WANTED_MS = 2000;
const LATEST_COPY_EVERY_MS = 200;

/**
 * Cameras with spare capacity at `detectFps` each: the model's idle time divided by the time `detectFps`
 * images take. Null until the model has run.
 */
export function spareCameras(usage: DetectorUsage, detectFps: number): number | null {
  if (usage.ceilingFps === null || !(detectFps > 0)) return null;
  return Math.max(0, Math.floor((usage.ceilingFps * (1 - usage.busy)) / detectFps + 1e-9));
}

export function postprocess(
  output: Float32Array,
  channels: number,
  anchors: number,
  lb: Letterbox,
  image: Pick<RgbImage, 'width' | 'height'>,
  model: Pick<YoloModel, 'labelOf'>,
  options: DetectOptions,
): Detection[] {
  const candidates = decodeYolov8(output, channels - 4, anchors, { confidence: options.confidence, classes: options.classes });
  return nonMaxSuppression(candidates, options.iou, options.maxDetections).map((c) => ({
    classId: c.classId,
    label: model.labelOf(c.classId),
    score: c.score,
    bbox: toSourceBox(c.box, lb, image.width, image.height),
  }));
}

/**
 * Runs detection requests through a model, one network run at a time on each of its copies (a worker thread each:
 * on a CPU, two 1-thread runs side by side do more than one 2-thread run), shared fairly between streams
 * (cameras). A stream has at most one request waiting: a newer one replaces it (the older fails with
 * SupersededError), so a slow model sees each camera's newest frame instead of a growing queue. When the model
 * frees up, the streams served longest ago go first, several together when the model's batch dimension allows
 * it; requests without a stream (single images) are never replaced and queue in arrival order among them.
 */
export class Detector {
  /** Waiting requests by stream, in arrival order; a replaced request keeps its place. */
  private readonly pending = new Map<string, Job>();
  private readonly streams = new Map<string, StreamTotals>();
  /** Settles when each stream's latest request sent to a model has been answered. */
  private readonly answered = new Map<string, Promise<void>>();
  /** Counts the streams' turns: a stream's servedAt is the count when it was last served. */
  private served = 0;
  private readonly recentRuns: RunRecord[] = [];
  private anonymous = 0;
  /** The copies of the model, and those with no run in progress. */
  private copies: readonly YoloModel[];
  private idle: YoloModel[];
  private readonly running = new Set<Promise<void>>();
  private closed = false;
  /**
   * Input tensors by length, reused: a run hands its tensor to the model's worker thread and gets it back. One per
   * copy, since the copies run at once: a tensor allocated per run is megabytes of garbage several times a second.
   */
  private readonly spareTensors = new Map<number, Float32Array[]>();
  private readonly startedAt = performance.now();
  /**
   * Each stream's frame size, and a copy of its first frame of that size (a sample to check a new input shape on).
   * Copies, here and in `latest`: a camera's pixels are reused for later frames once its request has ended.
   */
  private readonly frames = new Map<string, RgbImage>();
  /** A copy of each stream's latest frame, taken while someone collects them (see latestFrames), and when. */
  private readonly latest = new Map<string, { image: RgbImage; copiedAt: number }>();
  private latestWantedUntil = 0;
  /** Called when a stream shows a frame size this detector has not seen from it. */
  onFrameSize: ((frames: ReadonlyMap<string, RgbImage>) => void) | null = null;

  constructor(model: YoloModel | readonly YoloModel[], private readonly maxBatch = 4) {
    this.copies = Array.isArray(model) ? [...model] : [model as YoloModel];
    if (this.copies.length === 0) throw new RangeError('a detector needs at least one model');
    this.idle = [...this.copies];
  }

  get models(): readonly YoloModel[] {
    return this.copies;
  }

  /** The model (its first copy): input size, classes, runtime. */
  get model(): YoloModel {
    return this.models[0];
  }

  /** The copies' health as one: restarting while any copy's worker thread is being started again. */
  health(): ModelHealth {
    const all = this.models.map((m) => m.health());
    const restarting = all.find((h) => h.state === 'restarting');
    return {
      state: all.every((h) => h.state === 'released') ? 'released' : restarting ? 'restarting' : 'ready',
      restarts: all.reduce((sum, h) => sum + h.restarts, 0),
      lastError: restarting?.lastError ?? all.find((h) => h.lastError !== null)?.lastError ?? null,
    };
  }

  /** Detects objects in an image; `stream` names the camera it comes from, for fair turns and replacement. */
  detect(image: RgbImage, options: DetectOptions = DEFAULT_DETECT_OPTIONS, stream?: string): Promise<DetectResult> {
    if (this.closed) return Promise.reject(new Error('the model has been closed'));
    return new Promise((resolve, reject) => {
      const job: Job = { image, options, stream: stream ?? null, resolve, reject };
      if (stream !== undefined) this.noteFrameSize(stream, image);
      const key = stream === undefined ? `\0${this.anonymous++}` : stream;
      const superseded = this.pending.get(key);
      this.pending.set(key, job);
      if (superseded && stream !== undefined) {
        this.totalsOf(stream).superseded++;
        superseded.reject(new SupersededError(stream));
      }
      this.drainSoon();
    });
  }

  usage(now = performance.now()): DetectorUsage {
    while (this.recentRuns.length > 0 && this.recentRuns[0].endedAt < now - USAGE_WINDOW_MS) this.recentRuns.shift();
    const windowMs = Math.min(USAGE_WINDOW_MS, Math.max(1, now - this.startedAt));
    let busyMs = 0;
    let runMs = 0;
    let images = 0;
    const perStream = new Map<string, { images: number; ms: number }>();
    for (const run of this.recentRuns) {
      busyMs += run.ms;
      runMs += run.runMs;
      images += run.streams.length;
      for (const stream of run.streams) {
        if (stream === null) continue;
        const entry = perStream.get(stream) ?? { images: 0, ms: 0 };
        entry.images++;
        entry.ms += run.ms / run.streams.length;
        perStream.set(stream, entry);
      }
    }
    const last = this.recentRuns.at(-1);
    const msPerImage = images > 0 ? busyMs / images : last ? last.ms / last.streams.length : null;
    // The copies run side by side: their time adds up to as many seconds per second as there are copies.
    const copies = this.models.length;
    return {
      busy: Math.min(1, busyMs / (windowMs * copies)),
      msPerImage,
      ceilingFps: msPerImage ? (1000 * copies) / msPerImage : null,
      fps: (images * 1000) / windowMs,
      runMsPerImage: images > 0 ? runMs / images : null,
      streams: [...this.streams].map(([stream, { processed, superseded }]) => {
        const recent = perStream.get(stream);
        return {
          stream,
          fps: ((recent?.images ?? 0) * 1000) / windowMs,
          share: recent && busyMs > 0 ? recent.ms / busyMs : 0,
          processed,
          superseded,
        };
      }),
      windowSeconds: windowMs / 1000,
    };
  }

  /**
   * Runs on other copies of the model from now on (another input shape): runs in progress finish on the old
   * copies, which are then released.
   */
  async replaceModels(models: readonly YoloModel[]): Promise<void> {
    if (models.length === 0) throw new RangeError('a detector needs at least one model');
    if (this.closed) return void (await Promise.all(models.map((m) => m.release())));
    const old = this.copies;
    this.copies = [...models];
    this.idle = [...models];
    this.drainSoon();
    await Promise.all(this.running);
    await Promise.all(old.map((m) => m.release()));
  }

  /**
   * A copy of each stream's latest frame (calibration frames for a quantised model). Frames are copied only for a
   * while after each call, so the first call may find none: call it again to collect frames over time.
   */
  latestFrames(): RgbImage[] {
    this.latestWantedUntil = performance.now() + LATEST_WANTED_MS;
    return [...this.latest.values()].map(({ image }) => image);
  }

  private noteFrameSize(stream: string, image: RgbImage): void {
    const now = performance.now();
    const latest = this.latest.get(stream);
    if (now < this.latestWantedUntil && !(latest && now - latest.copiedAt < LATEST_COPY_EVERY_MS)) {
      this.latest.set(stream, { image: copyImage(image), copiedAt: now });
    }
    const known = this.frames.get(stream);
    if (known && known.width === image.width && known.height === image.height) return;
    this.frames.set(stream, copyImage(image));
    this.onFrameSize?.(this.frames);
  }

  /** Forgets a stream's totals and turn (a camera removed); a request of it that waits still runs. */
  forget(stream: string): void {
    this.streams.delete(stream);
    this.answered.delete(stream);
    this.frames.delete(stream);
    this.latest.delete(stream);
  }

  /** Refuses new work, fails what is queued, lets the runs in progress finish, then frees the model's copies. */
  async close(): Promise<void> {
    this.closed = true;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const job of waiting) job.reject(new Error('the model has been closed'));
    await Promise.all(this.running);
    await Promise.all(this.models.map((m) => m.release()));
  }

  private totalsOf(stream: string): StreamTotals {
    let totals = this.streams.get(stream);
    if (!totals) {
      if (this.streams.size >= MAX_STREAMS) {
        const [longestUnserved] = [...this.streams].reduce((a, b) => (b[1].servedAt < a[1].servedAt ? b : a));
        this.streams.delete(longestUnserved);
      }
      totals = { processed: 0, superseded: 0, servedAt: -1 };
      this.streams.set(stream, totals);
    }
    return totals;
  }

  /** The next run's requests: streams never served or served longest ago first, single images in arrival order. */
  private nextBatch(): Job[] {
    const size = Math.min(this.maxBatch, this.model.maxBatch);
    const turn = (key: string) => {
      const { stream } = this.pending.get(key)!;
      return stream === null ? -1 : this.totalsOf(stream).servedAt;
    };
    const keys = [...this.pending.keys()].sort((a, b) => turn(a) - turn(b)).slice(0, size);
    return keys.map((key) => {
      const job = this.pending.get(key)!;
      this.pending.delete(key);
      if (job.stream !== null) {
        this.totalsOf(job.stream).servedAt = this.served++;
        this.answerInTurn(job, job.stream);
      }
      return job;
    });
  }

  /**
   * Holds a stream's answer until the requests it sent to a model before have been answered: two copies run two
   * frames of one camera side by side, and the later one may finish first, but a tracker must see them in order.
   */
  private answerInTurn(job: Job, stream: string): void {
    const before = this.answered.get(stream) ?? Promise.resolve();
    let answered!: () => void;
    this.answered.set(stream, new Promise<void>((settle) => (answered = settle)));
    const { resolve, reject } = job;
    job.resolve = (result) => void before.then(() => (resolve(result), answered()));
    job.reject = (err) => void before.then(() => (reject(err), answered()));
  }

  /**
   * Starts a run on each idle copy while requests wait; every run that ends looks at the queue again. A copy whose
   * worker thread is being started again is passed over while another can run.
   */
  private drainSoon(): void {
    const isReady = (m: YoloModel) => m.health().state === 'ready';
    while (this.pending.size > 0 && this.idle.length > 0) {
      const ready = this.idle.findIndex(isReady);
      // With no copy ready at all, a run goes ahead and fails with the reason rather than wait for nothing.
      if (ready < 0 && this.models.some(isReady)) return;
      const [model] = this.idle.splice(Math.max(0, ready), 1);
      const run: Promise<void> = this.runBatch(this.nextBatch(), model).finally(() => {
        this.running.delete(run);
        if (this.copies.includes(model)) this.idle.push(model);
        this.drainSoon();
      });
      this.running.add(run);
    }
  }

  private async runBatch(batch: Job[], model: YoloModel): Promise<void> {
    const imageSize = 3 * model.inputWidth * model.inputHeight;
    const length = batch.length * imageSize;
    const tensor = this.spareTensors.get(length)?.pop() ?? new Float32Array(length);
    // The images are scaled together (libvips threads), then written into consecutive slots.
    const scaled = await Promise.allSettled(batch.map((job) => letterboxImage(job.image, model.inputWidth, model.inputHeight)));
    const ready: { job: Job; lb: Letterbox; slot: number }[] = [];
    scaled.forEach((outcome, i) => {
      const job = batch[i];
      if (outcome.status === 'rejected') return job.reject(outcome.reason as Error);
      const slot = ready.length;
      fillInputTensor(outcome.value.resized, outcome.value.letterbox, tensor, slot);
      ready.push({ job, lb: outcome.value.letterbox, slot });
    });
    if (ready.length === 0) return;
    const input = ready.length === batch.length ? tensor : tensor.subarray(0, ready.length * imageSize);
    let output: Awaited<ReturnType<YoloModel['run']>>;
    const started = performance.now();
    try {
      // Only what the least demanding request decodes comes back from the worker thread.
      output = await model.run(input, ready.length, Math.min(...ready.map(({ job }) => job.options.confidence)));
    } catch (err) {
      for (const { job } of ready) job.reject(err as Error);
      return;
    }
    const inferenceMs = performance.now() - started;
    if (output.input.length === length) {
      const spares = this.spareTensors.get(length) ?? [];
      if (spares.length < this.copies.length) spares.push(output.input);
      this.spareTensors.set(length, spares);
    }
    this.recentRuns.push({ endedAt: performance.now(), ms: inferenceMs, runMs: output.runMs, streams: ready.map(({ job }) => job.stream) });
    for (const { job } of ready) if (job.stream !== null) this.totalsOf(job.stream).processed++;
    for (const { job, lb, slot } of ready) {
      try {
        const { data, anchors } = output.images[slot];
        const detections = postprocess(data, output.channels, anchors, lb, job.image, model, job.options);
        if (job.options.appearance) for (const detection of detections) detection.appearance = appearanceOf(job.image, detection.bbox);
        job.resolve({ detections, inferenceMs, batchSize: ready.length });
      } catch (err) {
        job.reject(err as Error);
      }
    }
  }
}
