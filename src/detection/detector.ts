import { opencv, withMat } from '../opencv';
import type { BgrImage, Detection } from '../types';
import { decodeYolov8, nonMaxSuppression } from './decode';
import { fillInputTensor, letterbox, toSourceBox, type Letterbox } from './letterbox';
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
  image: BgrImage;
  options: DetectOptions;
  resolve: (result: DetectResult) => void;
  reject: (err: Error) => void;
}

/** Letterboxes a BGR image into slot `batchIndex` of the input tensor; OpenCV does the resize. */
export function preprocess(image: BgrImage, model: YoloModel, tensor: Float32Array, batchIndex: number): Letterbox {
  const { pixels, width, height } = image;
  if (pixels.length !== width * height * 3) {
    throw new RangeError(`a ${width}x${height} BGR image needs ${width * height * 3} bytes, got ${pixels.length}`);
  }
  const lb = letterbox(width, height, model.inputWidth, model.inputHeight);
  if (lb.resizedWidth === width && lb.resizedHeight === height) {
    fillInputTensor(pixels, lb, tensor, batchIndex);
    return lb;
  }
  const cv = opencv();
  const source = new cv.Mat(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.length), height, width, cv.CV_8UC3);
  const resized = withMat(source, (mat) => mat.resize(lb.resizedHeight, lb.resizedWidth, 0, 0, cv.INTER_LINEAR));
  withMat(resized, (mat) => fillInputTensor(mat.getData(), lb, tensor, batchIndex));
  return lb;
}

export function postprocess(
  output: Float32Array,
  channels: number,
  anchors: number,
  lb: Letterbox,
  image: Pick<BgrImage, 'width' | 'height'>,
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

  detect(image: BgrImage, options: DetectOptions = DEFAULT_DETECT_OPTIONS): Promise<DetectResult> {
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
    const ready: { job: Job; lb: Letterbox; slot: number }[] = [];
    for (const job of batch) {
      try {
        ready.push({ job, lb: preprocess(job.image, model, tensor, ready.length), slot: ready.length });
      } catch (err) {
        job.reject(err as Error);
      }
    }
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
