import type { Box } from '../types';

export interface HeatmapOptions {
  /** Frame size the tracks' boxes are in. */
  width: number;
  height: number;
  /** Pixels per grid cell: a coarser grid is cheaper. */
  cellSize: number;
  /** Each frame, the live map is multiplied by this (0..1): 0.99 forgets in about 100 frames. */
  decay: number;
  /** Spread of each person's blob, in frame pixels. */
  sigma: number;
  anchor: 'bottom-center' | 'center';
}

export const DEFAULT_HEATMAP_OPTIONS: Omit<HeatmapOptions, 'width' | 'height'> = { cellSize: 8, decay: 0.98, sigma: 24, anchor: 'bottom-center' };

export interface HeatmapGrid {
  columns: number;
  rows: number;
  values: Float32Array;
}

/**
 * Where people stand, accumulated on a grid: a live map that decays every frame and a long-term map that
 * only grows until it is reset. Each tracked position adds a Gaussian blob (precomputed kernel).
 */
export class Heatmap {
  readonly options: HeatmapOptions;
  readonly columns: number;
  readonly rows: number;
  private readonly live: Float32Array;
  private readonly longTerm: Float32Array;
  private readonly kernel: Float32Array;
  private readonly radius: number;
  private pendingDecay = 1;

  constructor(options: Partial<HeatmapOptions> & { width: number; height: number }) {
    this.options = { ...DEFAULT_HEATMAP_OPTIONS, ...options };
    const { width, height, cellSize, decay, sigma } = this.options;
    if (!(width > 0 && height > 0)) throw new RangeError(`heatmap frame size must be positive, got ${width}x${height}`);
    if (!(cellSize >= 1 && cellSize <= 1024)) throw new RangeError(`cellSize must be from 1 to 1024 pixels, got ${cellSize}`);
    if (!(decay > 0 && decay <= 1)) throw new RangeError(`decay must be above 0 and at most 1, got ${decay}`);
    // The blob's kernel grows with the square of sigma in cells: bounded so that a setting cannot exhaust memory.
    if (!(sigma > 0 && sigma / cellSize <= 200)) throw new RangeError(`sigma must be above 0 and at most 200 cells (${200 * cellSize} pixels), got ${sigma}`);
    this.columns = Math.ceil(width / cellSize);
    this.rows = Math.ceil(height / cellSize);
    this.live = new Float32Array(this.columns * this.rows);
    this.longTerm = new Float32Array(this.columns * this.rows);
    const sigmaCells = sigma / cellSize;
    this.radius = Math.max(1, Math.ceil(3 * sigmaCells));
    const side = 2 * this.radius + 1;
    this.kernel = new Float32Array(side * side);
    for (let dy = -this.radius; dy <= this.radius; dy++) {
      for (let dx = -this.radius; dx <= this.radius; dx++) {
        this.kernel[(dy + this.radius) * side + dx + this.radius] = Math.exp(-(dx * dx + dy * dy) / (2 * sigmaCells * sigmaCells));
      }
    }
  }

  /** One frame: decay the live map, then add a blob at each box's position. */
  update(boxes: readonly Box[]): void {
    // Decay is applied lazily as a scale on new additions, and folded into the values only when the scale
    // gets small, so a frame costs the blobs alone rather than a pass over the whole grid.
    this.pendingDecay *= this.options.decay;
    if (this.pendingDecay < 1e-6) this.foldDecay();
    const weight = 1 / this.pendingDecay;
    for (const box of boxes) {
      if (!box.slice(0, 4).every(Number.isFinite)) continue;
      const x = (box[0] + box[2]) / 2;
      const y = this.options.anchor === 'center' ? (box[1] + box[3]) / 2 : box[3];
      this.addBlob(Math.floor(x / this.options.cellSize), Math.floor(y / this.options.cellSize), weight);
    }
  }

  /** The live map's current values (decay applied). */
  liveGrid(): HeatmapGrid {
    this.foldDecay();
    return { columns: this.columns, rows: this.rows, values: this.live.slice() };
  }

  longTermGrid(): HeatmapGrid {
    return { columns: this.columns, rows: this.rows, values: this.longTerm.slice() };
  }

  resetLongTerm(): void {
    this.longTerm.fill(0);
  }

  private foldDecay(): void {
    if (this.pendingDecay === 1) return;
    const scale = this.pendingDecay;
    for (let i = 0; i < this.live.length; i++) this.live[i] *= scale;
    this.pendingDecay = 1;
  }

  private addBlob(column: number, row: number, weight: number): void {
    const { radius, columns, rows, kernel } = this;
    const side = 2 * radius + 1;
    const top = Math.max(0, row - radius);
    const bottom = Math.min(rows - 1, row + radius);
    const left = Math.max(0, column - radius);
    const right = Math.min(columns - 1, column + radius);
    for (let r = top; r <= bottom; r++) {
      const k = (r - row + radius) * side - column + radius;
      const base = r * columns;
      for (let c = left; c <= right; c++) {
        const value = kernel[k + c];
        this.live[base + c] += value * weight;
        this.longTerm[base + c] += value;
      }
    }
  }
}
