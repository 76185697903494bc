import { encodeImage, type ImageFormat } from '../camera/encode';
import { opencv, withMat } from '../opencv';
import { blurRegions } from '../privacy';
import type { BgrImage, Box } from '../types';
import type { HeatmapGrid } from './heatmap';

export interface RenderOptions {
  /** Output size; usually the camera frame's. */
  width: number;
  height: number;
  /** Drawn under the heat, seen where it is cold. */
  background?: BgrImage;
  /** Boxes of the background to blur first (people, in privacy mode). */
  blur?: Box[];
  /** Opacity of the hottest spots over the background (0..1). */
  opacity: number;
  format: ImageFormat;
  /** JPEG quality 1..100. */
  quality: number;
}

/** Blue (cold) → cyan → green → yellow → red (hot), as BGR, 256 steps. */
const PALETTE: Uint8Array = (() => {
  const stops: [number, [number, number, number]][] = [
    [0, [0, 0, 128]],
    [0.25, [0, 96, 255]],
    [0.5, [0, 224, 128]],
    [0.75, [255, 224, 0]],
    [1, [255, 32, 0]],
  ];
  const palette = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    let s = 0;
    while (s < stops.length - 2 && t > stops[s + 1][0]) s++;
    const [t0, c0] = stops[s];
    const [t1, c1] = stops[s + 1];
    const f = (t - t0) / (t1 - t0);
    const rgb = c0.map((v, k) => Math.round(v + (c1[k] - v) * f));
    palette.set([rgb[2], rgb[1], rgb[0]], i * 3);
  }
  return palette;
})();

/** Scales a grid to 0..255 by its maximum (an empty grid stays 0). */
export function normalise(grid: HeatmapGrid): Uint8Array {
  let max = 0;
  for (const v of grid.values) if (v > max) max = v;
  const out = new Uint8Array(grid.values.length);
  if (max <= 0) return out;
  const scale = 255 / max;
  for (let i = 0; i < out.length; i++) out[i] = Math.min(255, Math.round(grid.values[i] * scale));
  return out;
}

/** Renders a grid as a colour-mapped image, optionally over a frame, encoded as PNG or JPEG. */
export function renderHeatmap(grid: HeatmapGrid, options: RenderOptions): Buffer {
  const cv = opencv();
  const { width, height, opacity } = options;
  let background = options.background;
  if (background && (background.width !== width || background.height !== height)) {
    throw new RangeError(`background is ${background.width}x${background.height}, the heatmap ${width}x${height}`);
  }
  if (background && options.blur?.length) {
    const copy = new cv.Mat(Buffer.from(background.pixels), height, width, cv.CV_8UC3);
    background = withMat(copy, (m) => {
      blurRegions(m, options.blur!);
      return { pixels: m.getData(), width, height };
    });
  }
  const intensity = normalise(grid);
  const small = new cv.Mat(Buffer.from(intensity.buffer), grid.rows, grid.columns, cv.CV_8UC1);
  const scaled = withMat(small, (m) => m.resize(height, width, 0, 0, cv.INTER_LINEAR));
  const levels = withMat(scaled, (m) => m.getData());
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0, p = 0; i < levels.length; i++, p += 3) {
    const level = levels[i];
    const c = level * 3;
    if (!background) {
      pixels[p] = PALETTE[c];
      pixels[p + 1] = PALETTE[c + 1];
      pixels[p + 2] = PALETTE[c + 2];
      continue;
    }
    // Heat shows in proportion to its level, so cold areas keep the frame visible.
    const a = (opacity * level) / 255;
    const b = 1 - a;
    pixels[p] = background.pixels[p] * b + PALETTE[c] * a;
    pixels[p + 1] = background.pixels[p + 1] * b + PALETTE[c + 1] * a;
    pixels[p + 2] = background.pixels[p + 2] * b + PALETTE[c + 2] * a;
  }
  return encodeImage({ pixels, width, height }, options.format, options.quality);
}
