import { blurRegions, encodeImage, resizeLevels, type ImageFormat } from '../imaging/image';
import type { Box, RgbImage } from '../types';
import type { HeatmapGrid } from './heatmap';

export interface RenderOptions {
  /** Output size; usually the camera frame's. */
  width: number;
  height: number;
  /** Drawn under the heat, seen where it is cold. */
  background?: RgbImage;
  /** Boxes of the background to blur first (people, in privacy mode). */
  blur?: Box[];
  /** Opacity of the hottest spots over the background (0..1). */
  opacity: number;
  format: ImageFormat;
  /** JPEG quality 1..100. */
  quality: number;
}

/** Blue (cold) → cyan → green → yellow → red (hot), as RGB, 256 steps. */
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
    palette.set(c0.map((v, k) => Math.round(v + (c1[k] - v) * f)), i * 3);
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
export async function renderHeatmap(grid: HeatmapGrid, options: RenderOptions): Promise<Buffer> {
  const { width, height, opacity } = options;
  let background = options.background;
  if (background && (background.width !== width || background.height !== height)) {
    throw new RangeError(`background is ${background.width}x${background.height}, the heatmap ${width}x${height}`);
  }
  if (background && options.blur?.length) background = await blurRegions(background, options.blur);
  const levels = await resizeLevels(normalise(grid), grid.columns, grid.rows, width, height);
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
