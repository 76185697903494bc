import type { RgbImage } from '../types';

export interface MotionOptions {
  /** Grey-level difference from the background (0–255) at which a cell has changed. */
  threshold: number;
  /** Smallest changed region, as a fraction of the frame, that counts as motion. */
  minArea: number;
  /**
   * Time constant of the running-average background, in seconds: what stops moving fades into it at this pace,
   * whatever the frame rate (a frame's weight is 1 − e^(−Δt/τ)).
   */
  backgroundSeconds: number;
}

export const DEFAULT_MOTION_OPTIONS: MotionOptions = { threshold: 25, minArea: 0.001, backgroundSeconds: 0.5 };

/** The small grey copy is about this many cells wide: enough for a person far away, cheap to compare. */
const GRID_WIDTH = 160;
/** When more of the frame than this changes at once, the light changed or the camera moved: start afresh. */
const SCENE_CHANGE_FRACTION = 0.5;

export interface MotionResult {
  moved: boolean;
  /** Fraction of the frame in the largest changed region (after dilation). */
  largestArea: number;
}

/**
 * Decides cheaply whether anything moved in a camera's view: a small grey-scale copy of each frame (each cell
 * the mean of a block of pixels, which also smooths noise) against a running-average background; cells that
 * differ by more than the threshold, dilated by one cell so a person's pieces join, form regions; motion is a
 * region at least `minArea` of the frame. The first frame, a change of size and a change of most of the frame
 * (lights, a camera knocked) count as motion and reset the background.
 */
export class MotionDetector {
  readonly options: MotionOptions;
  private background: Float32Array | null = null;
  private grey = new Uint8Array(0);
  private changed = new Uint8Array(0);
  private dilated = new Uint8Array(0);
  private stack = new Int32Array(0);
  private gridWidth = 0;
  private gridHeight = 0;
  private sourceWidth = 0;
  private sourceHeight = 0;
  private lastTimestamp: number | null = null;

  constructor(options: Partial<MotionOptions> = {}) {
    this.options = validateMotionOptions({ ...DEFAULT_MOTION_OPTIONS, ...options });
  }

  /** Whether anything moved in `image`, captured at `timestamp` (ms). */
  check(image: RgbImage, timestamp: number): MotionResult {
    if (image.width !== this.sourceWidth || image.height !== this.sourceHeight) this.resize(image.width, image.height);
    const elapsedMs = this.lastTimestamp === null ? 0 : Math.max(0, timestamp - this.lastTimestamp);
    this.lastTimestamp = timestamp;
    this.shrink(image);
    const { grey, changed, gridWidth, gridHeight } = this;
    const cells = gridWidth * gridHeight;
    if (!this.background) {
      this.background = Float32Array.from(grey);
      return { moved: true, largestArea: 1 };
    }
    const background = this.background;
    const { threshold } = this.options;
    const backgroundAlpha = 1 - Math.exp(-elapsedMs / 1000 / this.options.backgroundSeconds);
    let changedCells = 0;
    for (let i = 0; i < cells; i++) {
      const differs = Math.abs(grey[i] - background[i]) > threshold ? 1 : 0;
      changed[i] = differs;
      changedCells += differs;
      background[i] += (grey[i] - background[i]) * backgroundAlpha;
    }
    if (changedCells > cells * SCENE_CHANGE_FRACTION) {
      background.set(grey);
      return { moved: true, largestArea: changedCells / cells };
    }
    if (changedCells === 0) return { moved: false, largestArea: 0 };
    this.dilate();
    const largest = this.largestRegion(Math.ceil(this.options.minArea * cells));
    return { moved: largest >= this.options.minArea * cells, largestArea: largest / cells };
  }

  private resize(width: number, height: number): void {
    this.sourceWidth = width;
    this.sourceHeight = height;
    const block = Math.max(1, Math.round(width / GRID_WIDTH));
    this.gridWidth = Math.max(1, Math.floor(width / block));
    this.gridHeight = Math.max(1, Math.floor(height / block));
    const cells = this.gridWidth * this.gridHeight;
    this.grey = new Uint8Array(cells);
    this.changed = new Uint8Array(cells);
    this.dilated = new Uint8Array(cells);
    this.stack = new Int32Array(cells);
    this.background = null;
  }

  /** Each cell: the mean grey of its block, sampling every other pixel of every other row. */
  private shrink(image: RgbImage): void {
    const { pixels, width } = image;
    const { grey, gridWidth, gridHeight } = this;
    const block = Math.floor(this.sourceWidth / gridWidth);
    const step = block >= 4 ? 2 : 1;
    for (let gy = 0; gy < gridHeight; gy++) {
      for (let gx = 0; gx < gridWidth; gx++) {
        let sum = 0;
        let samples = 0;
        for (let y = gy * block; y < (gy + 1) * block; y += step) {
          let offset = (y * width + gx * block) * 3;
          for (let x = 0; x < block; x += step, offset += 3 * step) {
            sum += pixels[offset] * 77 + pixels[offset + 1] * 150 + pixels[offset + 2] * 29;
            samples++;
          }
        }
        grey[gy * gridWidth + gx] = sum / samples / 256;
      }
    }
  }

  /** One pass of 3×3 dilation of the changed cells. */
  private dilate(): void {
    const { changed, dilated, gridWidth: w, gridHeight: h } = this;
    dilated.fill(0);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (!changed[y * w + x]) continue;
        for (let dy = Math.max(0, y - 1); dy <= Math.min(h - 1, y + 1); dy++) {
          for (let dx = Math.max(0, x - 1); dx <= Math.min(w - 1, x + 1); dx++) dilated[dy * w + dx] = 1;
        }
      }
    }
  }

  /** The largest 8-connected region of dilated cells, stopping early once one reaches `enough` cells. */
  private largestRegion(enough: number): number {
    const { dilated, stack, gridWidth: w, gridHeight: h } = this;
    let largest = 0;
    for (let start = 0; start < dilated.length; start++) {
      if (dilated[start] !== 1) continue;
      let size = 0;
      let top = 0;
      stack[top++] = start;
      dilated[start] = 2;
      while (top > 0) {
        const cell = stack[--top];
        size++;
        const x = cell % w;
        const y = (cell - x) / w;
        for (let dy = Math.max(0, y - 1); dy <= Math.min(h - 1, y + 1); dy++) {
          for (let dx = Math.max(0, x - 1); dx <= Math.min(w - 1, x + 1); dx++) {
            const next = dy * w + dx;
            if (dilated[next] === 1) {
              dilated[next] = 2;
              stack[top++] = next;
            }
          }
        }
      }
      if (size > largest) largest = size;
      if (largest >= enough) break;
    }
    return largest;
  }
}

export function validateMotionOptions(options: MotionOptions): MotionOptions {
  const { threshold, minArea, backgroundSeconds } = options;
  if (!(threshold >= 1 && threshold <= 254)) throw new Error(`the motion threshold must be from 1 to 254 grey levels, got ${threshold}`);
  if (!(minArea > 0 && minArea <= 1)) throw new Error(`the smallest motion area must be above 0 and at most the whole frame, got ${minArea}`);
  if (!(backgroundSeconds > 0 && backgroundSeconds <= 3600)) throw new Error(`the background time constant must be above 0 and at most 3600 seconds, got ${backgroundSeconds}`);
  return options;
}
