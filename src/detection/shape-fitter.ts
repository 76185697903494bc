import { createHash, randomUUID } from 'node:crypto';
import { access, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { iou } from '../tracking/iou';
import type { Detection, RgbImage } from '../types';
import { Detector, type DetectOptions } from './detector';
import { fittingInputSize, formatSize, reshapeYoloInput, type InputSize } from './input-shape';
import { CALIBRATION_FRAMES } from './int8-model';
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
  const partial = `${file}.${process.pid}-${randomUUID()}.partial`;
  await writeFile(partial, reshaped);
  await rename(partial, file);
  return file;
}

/** Detections compared for the check: every class, down to a score where a box near the threshold still shows. */
const CHECK_OPTIONS: DetectOptions = { confidence: 0.25, iou: 0.45, classes: null, maxDetections: 300 };
/** A box one model is sure of (the default confidence) must be found by the other at least at CHECK_OPTIONS'. */
const SURE = 0.5;
/**
 * The share of sure boxes that must agree. A correct reshape differs from the square input only in the padding
 * around the picture (40 frames of two scenes here: every box agreed, at IoU ≥ 0.9); a wrong one misplaces them all.
 */
export const REQUIRED_AGREEMENT = 0.95;

/** How close a copy's boxes must be: a reshape moves none, int8 moves edges by a pixel or two (IoU ≥ 0.73 measured, median 0.98). */
export interface Tolerance {
  sameBoxIou: number;
  /** The median score difference of agreeing boxes may be at most this (int8 here: 0.011–0.015). */
  scoreDifference: number;
}

export const RESHAPE_TOLERANCE: Tolerance = { sameBoxIou: 0.8, scoreDifference: 0.05 };
export const INT8_TOLERANCE: Tolerance = { sameBoxIou: 0.7, scoreDifference: 0.05 };

export interface Agreement {
  /** Sure boxes of either model, and those the other model found too. */
  compared: number;
  agreed: number;
  /** The median score difference between the agreeing boxes; 0 when none agreed. */
  scoreDifference: number;
}

/** How far two models' detections on the same images agree, each model's sure boxes looked for in the other's. */
export function agreement(reference: readonly Detection[][], candidate: readonly Detection[][], sameBoxIou = RESHAPE_TOLERANCE.sameBoxIou): Agreement {
  let compared = 0;
  const differences: number[] = [];
  const count = (sure: readonly Detection[], others: readonly Detection[]) => {
    for (const box of sure) {
      if (box.score < SURE) continue;
      compared++;
      let best: Detection | null = null;
      let bestIou = sameBoxIou;
      for (const other of others) {
        const overlap = other.classId === box.classId ? iou(box.bbox, other.bbox) : 0;
        if (overlap >= bestIou) [best, bestIou] = [other, overlap];
      }
      if (best) differences.push(Math.abs(best.score - box.score));
    }
  };
  reference.forEach((detections, i) => {
    count(detections, candidate[i]);
    count(candidate[i], detections);
  });
  differences.sort((x, y) => x - y);
  return { compared, agreed: differences.length, scoreDifference: differences[Math.floor(differences.length / 2)] ?? 0 };
}

const agrees = ({ compared, agreed, scoreDifference }: Agreement, tolerance: Tolerance) =>
  compared === 0 || (agreed / compared >= REQUIRED_AGREEMENT && scoreDifference <= tolerance.scoreDifference);

export type Precision = 'fp32' | 'int8';

export interface CopyCheck {
  agreement: Agreement;
  passed: boolean;
  /** The agreement in words, e.g. "14 of 14 detections agreed on 1 camera frame". */
  tally: string;
}

/** Checks a copy of the model (another input size, or int8) against the model it would replace, on the same frames. */
export async function checkCopy(reference: Detector, candidate: Detector, frames: readonly RgbImage[], precision: Precision): Promise<CopyCheck> {
  const tolerance = precision === 'int8' ? INT8_TOLERANCE : RESHAPE_TOLERANCE;
  const expected = await Promise.all(frames.map((image) => reference.detect(image, CHECK_OPTIONS)));
  const found = await Promise.all(frames.map((image) => candidate.detect(image, CHECK_OPTIONS)));
  const checked = agreement(expected.map((r) => r.detections), found.map((r) => r.detections), tolerance.sameBoxIou);
  const tally =
    `${checked.agreed} of ${checked.compared} detections agreed on ${frames.length} camera frame${frames.length === 1 ? '' : 's'}` +
    (precision === 'int8' ? `, median score difference ${checked.scoreDifference.toFixed(3)}` : '');
  return { agreement: checked, passed: agrees(checked, tolerance), tally };
}

/** A version of the model: its input size and number format. */
export interface Variant {
  size: InputSize;
  precision: Precision;
}

const describe = ({ size, precision }: Variant) => `${precision} ${formatSize(size)}`;

export interface ShapeState {
  /** The input the model runs at, `width`x`height`. */
  input: string;
  /** The number format it runs in: fp32 as exported, or int8 made here. */
  precision: Precision;
  /** Why the model is what it is: fitted or quantised and checked, or kept and why. */
  note: string | null;
}

export interface FitterSettings {
  /** Fit the input to the cameras' frames; otherwise the model's own size stays. */
  fitShape: boolean;
  /** Use an int8 copy of the model when its detections agree with the float model's. */
  int8: boolean;
  /** Cameras starting together are fitted at once: the last new frame size is awaited this long. */
  settleMs?: number;
  /** Calibration frames are taken from the cameras this far apart, for at most collectMs. */
  frameIntervalMs?: number;
  collectMs?: number;
}

/** Loads the model's copies in a variant; frames are the cameras' own, to calibrate an int8 copy on. */
export type VariantLoader = (variant: Variant, frames: readonly RgbImage[]) => Promise<{ models: YoloModel[]; made?: string }>;

/**
 * Fits a detector's model to its cameras: once their frame sizes have settled, the smallest input showing every
 * camera at the square model's scale, in int8 when asked. Each candidate is checked against the model in use on
 * the cameras' frames and put in its place only when their detections agree: an int8 copy that disagrees gives
 * way to the float one at the fitted size, a fitted one that disagrees to the model as it is. The note says which
 * and why.
 */
export class ShapeFitter {
  private timer: NodeJS.Timeout | undefined;
  private work: Promise<void> = Promise.resolve();
  private readonly tried = new Set<string>();
  private note: string | null = null;
  private precision: Precision = 'fp32';
  private closed = false;
  private readonly settleMs: number;

  constructor(
    private readonly detector: Detector,
    /** The model's own (square) input size. */
    private readonly square: number,
    private readonly load: VariantLoader,
    private readonly settings: FitterSettings,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.settleMs = settings.settleMs ?? 2000;
    detector.onFrameSize = (frames) => this.schedule(frames);
  }

  state(): ShapeState {
    return { input: formatSize(this.size()), precision: this.precision, note: this.note };
  }

  /** Stops fitting; a fit in progress finishes (or is dropped) first. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.detector.onFrameSize = null;
    await this.work;
  }

  private size(): InputSize {
    const { inputWidth, inputHeight } = this.detector.model;
    return { width: inputWidth, height: inputHeight };
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
    const current: Variant = { size: this.size(), precision: this.precision };
    const size = this.settings.fitShape ? fittingInputSize(samples, this.square) : current.size;
    const wanted: Variant = { size, precision: this.settings.int8 ? 'int8' : 'fp32' };
    if (this.closed || describe(wanted) === describe(current) || this.tried.has(describe(wanted))) return;
    this.tried.add(describe(wanted));
    const reasons: string[] = [];
    if (wanted.precision === 'int8') {
      const frames = await this.collectFrames(samples);
      if (await this.tryVariant(current, wanted, frames, reasons)) return;
    }
    const float: Variant = { size, precision: 'fp32' };
    if (describe(float) !== describe(current) && !this.closed && (await this.tryVariant(current, float, samples, reasons))) return;
    if (this.closed) return;
    this.note = `kept ${describe(current)}: ${reasons.join('; ')}`;
    this.log(`model ${this.note}`);
  }

  /** Up to CALIBRATION_FRAMES different frames of the cameras, taken frameIntervalMs apart. */
  private async collectFrames(samples: readonly RgbImage[]): Promise<RgbImage[]> {
    const frames = new Set<RgbImage>(samples);
    const deadline = Date.now() + (this.settings.collectMs ?? 30_000);
    while (frames.size < CALIBRATION_FRAMES && !this.closed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, this.settings.frameIntervalMs ?? 500).unref());
      for (const frame of this.detector.latestFrames()) frames.add(frame);
    }
    return [...frames].slice(0, CALIBRATION_FRAMES);
  }

  /** Loads a variant and checks it against the model in use; puts it in place when they agree. */
  private async tryVariant(current: Variant, candidate: Variant, frames: readonly RgbImage[], reasons: string[]): Promise<boolean> {
    const name = describe(candidate);
    let loaded: { models: YoloModel[]; made?: string };
    try {
      loaded = await this.load(candidate, frames);
    } catch (err) {
      reasons.push(`making the ${name} model failed: ${(err as Error).message}`);
      return false;
    }
    const release = () => Promise.all(loaded.models.map((m) => m.release()));
    let checked: CopyCheck;
    try {
      if (this.closed) throw new Error('closed');
      checked = await checkCopy(this.detector, new Detector(loaded.models), frames, candidate.precision);
    } catch (err) {
      await release();
      reasons.push(`checking the ${name} model failed: ${(err as Error).message}`);
      return false;
    }
    const { tally } = checked;
    if (this.closed || !checked.passed) {
      await release();
      reasons.push(`the ${name} model disagreed with it: ${tally}`);
      return false;
    }
    this.note = [`${name} from ${describe(current)}`, ...reasons, tally, ...(loaded.made ? [loaded.made] : [])].join('; ');
    this.precision = candidate.precision;
    await this.detector.replaceModels(loaded.models);
    this.log(`model ${this.note}`);
    return true;
  }
}
