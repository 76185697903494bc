import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { iou } from '../tracking/iou';
import type { Detection, RgbImage } from '../types';
import { Detector, type DetectOptions } from './detector';
import { fittingInputSize, formatSize, reshapeYoloInput, type InputSize } from './input-shape';
import type { YoloModel } from './model';

/**
 * The model reshaped to `size`, made once and kept in `dir`: named by the source's checksum, so a changed model
 * file gets a copy of its own. Written under another name and renamed, so a crash never leaves half a model.
 */
export async function ensureReshapedModel(source: string, size: InputSize, dir: string): Promise<string> {
  const bytes = await readFile(source);
  const checksum = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const file = path.join(dir, `${path.basename(source, '.onnx')}-${checksum}-${formatSize(size)}.onnx`);
  try {
    await access(file);
    return file;
  } catch {
    // Not made yet.
  }
  const reshaped = reshapeYoloInput(bytes, size);
  await mkdir(dir, { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, reshaped);
  await rename(partial, file);
  return file;
}

/** Detections compared for the check: every class, down to a score where a box near the threshold still shows. */
const CHECK_OPTIONS: DetectOptions = { confidence: 0.25, iou: 0.45, classes: null, maxDetections: 300 };
/** A box one model is sure of (the default confidence) must be found by the other at least at CHECK_OPTIONS'. */
const SURE = 0.5;
const SAME_BOX_IOU = 0.8;
/**
 * The share of sure boxes that must agree. A correct reshape differs from the square input only in the padding
 * around the picture (40 frames of two scenes here: every box agreed, at IoU ≥ 0.9); a wrong one misplaces them all.
 */
export const REQUIRED_AGREEMENT = 0.95;

export interface Agreement {
  /** Sure boxes of either model, and those the other model found too. */
  compared: number;
  agreed: number;
}

/** How far two models' detections on the same images agree, each model's sure boxes looked for in the other's. */
export function agreement(reference: readonly Detection[][], candidate: readonly Detection[][]): Agreement {
  let compared = 0;
  let agreed = 0;
  const count = (sure: readonly Detection[], others: readonly Detection[]) => {
    for (const box of sure) {
      if (box.score < SURE) continue;
      compared++;
      if (others.some((other) => other.classId === box.classId && iou(box.bbox, other.bbox) >= SAME_BOX_IOU)) agreed++;
    }
  };
  reference.forEach((detections, i) => {
    count(detections, candidate[i]);
    count(candidate[i], detections);
  });
  return { compared, agreed };
}

export interface ShapeState {
  /** The input the model runs at, `width`x`height`. */
  input: string;
  /** Why the input is what it is: fitted and checked, or kept and why. */
  note: string | null;
}

/**
 * Fits a detector's input to its cameras: once their frame sizes have settled, the smallest input showing every
 * camera at the square model's scale is made, checked against the model in use on one frame of each camera, and
 * put in its place only when their detections agree. Otherwise the input stays and the note says why.
 */
export class ShapeFitter {
  private timer: NodeJS.Timeout | undefined;
  private work: Promise<void> = Promise.resolve();
  private readonly tried = new Set<string>();
  private note: string | null = null;
  private closed = false;

  constructor(
    private readonly detector: Detector,
    /** The model's own (square) input size. */
    private readonly square: number,
    /** Loads the model's copies at an input size (the square one is the original file). */
    private readonly load: (size: InputSize) => Promise<YoloModel[]>,
    private readonly log: (line: string) => void = () => undefined,
    /** Cameras starting together are fitted at once: the last new frame size is awaited this long. */
    private readonly settleMs = 2000,
  ) {
    detector.onFrameSize = (frames) => this.schedule(frames);
  }

  state(): ShapeState {
    const { inputWidth, inputHeight } = this.detector.model;
    return { input: formatSize({ width: inputWidth, height: inputHeight }), note: this.note };
  }

  /** Stops fitting; a fit in progress finishes (or is dropped) first. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.detector.onFrameSize = null;
    await this.work;
  }

  private schedule(frames: ReadonlyMap<string, RgbImage>): void {
    clearTimeout(this.timer);
    const snapshot = [...frames.values()];
    this.timer = setTimeout(() => {
      this.work = this.work.then(() => this.fit(snapshot));
    }, this.settleMs);
    this.timer.unref();
  }

  private async fit(samples: RgbImage[]): Promise<void> {
    const size = fittingInputSize(samples, this.square);
    const current = this.state().input;
    const wanted = formatSize(size);
    if (this.closed || wanted === current || this.tried.has(wanted)) return;
    this.tried.add(wanted);
    let models: YoloModel[];
    try {
      models = await this.load(size);
    } catch (err) {
      return this.keep(`making the ${wanted} input failed: ${(err as Error).message}`);
    }
    const release = () => Promise.all(models.map((m) => m.release()));
    if (this.closed) return void (await release());
    let checked: Agreement;
    try {
      const probe = new Detector(models);
      const reference = await Promise.all(samples.map((image) => this.detector.detect(image, CHECK_OPTIONS)));
      const candidate = await Promise.all(samples.map((image) => probe.detect(image, CHECK_OPTIONS)));
      checked = agreement(reference.map((r) => r.detections), candidate.map((r) => r.detections));
    } catch (err) {
      await release();
      return this.keep(`checking the ${wanted} input failed: ${(err as Error).message}`);
    }
    const { compared, agreed } = checked;
    const tally = `${agreed} of ${compared} detections agreed on ${samples.length} camera frame${samples.length === 1 ? '' : 's'}`;
    if (this.closed || (compared > 0 && agreed / compared < REQUIRED_AGREEMENT)) {
      await release();
      if (!this.closed) this.keep(`the ${wanted} input disagreed with it: ${tally}`);
      return;
    }
    this.note = `fitted to the cameras' frames from ${current}; ${tally}`;
    await this.detector.replaceModels(models);
    this.log(`model input ${wanted}: ${this.note}`);
  }

  private keep(reason: string): void {
    this.note = `kept ${this.state().input}: ${reason}`;
    this.log(`model input ${this.note}`);
  }
}
