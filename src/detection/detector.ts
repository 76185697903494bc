import { fillInputTensor, letterboxImage, toSourceBox, type Letterbox } from '../imaging/letterbox';
import type { Detection, RgbImage } from '../types';
import { decodeYolov8, nonMaxSuppression } from './decode';
import type { YoloModel } from './model';

export interface DetectOptions {
  /** Minimum class score; Ultralytics keeps scores strictly above it. */
  confidence: number;
  /** IoU above which a lower-scoring box of the same class is suppressed. */
  iou: number;
  /** Class ids to report, or null for every class. */
  classes: ReadonlySet<number> | null;
  maxDetections: number;
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
  resolve: (result: DetectResult) => void;
  reject: (err: Error) => void;
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
 * Runs detection requests through one model, one network run at a time. Requests that wait while a run is
 * in progress (typically frames of several cameras) go together into the next run when the model's batch
 * dimension allows it.
 */
export class Detector {
  private readonly queue: Job[] = [];
  private running: Promise<void> | undefined;
  private closed = false;
  /** Input tensors by batch size, reused: runs never overlap, and every slot is fully rewritten. */
  private readonly tensors = new Map<number, Float32Array>();

  constructor(readonly model: YoloModel, private readonly maxBatch = 4) {}

  detect(image: RgbImage, options: DetectOptions = DEFAULT_DETECT_OPTIONS): Promise<DetectResult> {
    if (this.closed) return Promise.reject(new Error('the model has been closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ image, options, resolve, reject });
      this.running ??= this.drain().finally(() => (this.running = undefined));
    });
  }

  /** Refuses new work, fails what is queued, lets a run in progress finish, then frees the model. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('the model has been closed'));
    await this.running;
    await this.model.release();
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, Math.min(this.maxBatch, this.model.maxBatch));
      await this.runBatch(batch);
    }
  }

  private async runBatch(batch: Job[]): Promise<void> {
    const { model } = this;
    const imageSize = 3 * model.inputWidth * model.inputHeight;
    let tensor = this.tensors.get(batch.length);
    if (!tensor) {
      tensor = new Float32Array(batch.length * imageSize);
      this.tensors.set(batch.length, tensor);
    }
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
      output = await model.run(input, ready.length);
    } catch (err) {
      for (const { job } of ready) job.reject(err as Error);
      return;
    }
    const inferenceMs = performance.now() - started;
    const perImage = output.channels * output.anchors;
    for (const { job, lb, slot } of ready) {
      try {
        const slice = output.data.subarray(slot * perImage, (slot + 1) * perImage);
        const detections = postprocess(slice, output.channels, output.anchors, lb, job.image, model, job.options);
        job.resolve({ detections, inferenceMs, batchSize: ready.length });
      } catch (err) {
        job.reject(err as Error);
      }
    }
  }
}
