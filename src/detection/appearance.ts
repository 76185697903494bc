import type { Box, RgbImage } from '../types';

/**
 * A cheap appearance cue for telling people apart when their paths cross: the colour histogram of the upper
 * body (the torso carries the clothes' colour; legs and head less so, and the box edges are mostly background).
 * Hue in 8 bins × saturation in 2 for coloured pixels, brightness in 4 for greys, normalised to sum 1.
 */
const HUE_BINS = 8;
const SATURATION_BINS = 2;
const GREY_BINS = 4;
export const APPEARANCE_BINS = HUE_BINS * SATURATION_BINS + GREY_BINS;

/** Pixels whose saturation is below this are greys: their hue is noise. */
const GREY_SATURATION = 0.2;
/** Pixels sampled per side at most: a histogram needs a few hundred pixels, not a whole torso of a close-up. */
const MAX_SAMPLES_PER_SIDE = 24;

/** The torso: the middle half of the width, from 15 % to 55 % of the height. */
function torso(box: Box, image: RgbImage): [x1: number, y1: number, x2: number, y2: number] | null {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  const x1 = Math.max(0, Math.floor(box[0] + 0.25 * w));
  const x2 = Math.min(image.width, Math.ceil(box[0] + 0.75 * w));
  const y1 = Math.max(0, Math.floor(box[1] + 0.15 * h));
  const y2 = Math.min(image.height, Math.ceil(box[1] + 0.55 * h));
  return x2 - x1 >= 2 && y2 - y1 >= 2 ? [x1, y1, x2, y2] : null;
}

/** The colour histogram of a person's torso, or null when the box has too little of it inside the image. */
export function appearanceOf(image: RgbImage, box: Box): number[] | null {
  const region = torso(box, image);
  if (!region) return null;
  const [x1, y1, x2, y2] = region;
  const stepX = Math.max(1, Math.floor((x2 - x1) / MAX_SAMPLES_PER_SIDE));
  const stepY = Math.max(1, Math.floor((y2 - y1) / MAX_SAMPLES_PER_SIDE));
  const histogram = new Array<number>(APPEARANCE_BINS).fill(0);
  const { pixels, width } = image;
  let count = 0;
  for (let y = y1; y < y2; y += stepY) {
    for (let x = x1; x < x2; x += stepX) {
      const k = (y * width + x) * 3;
      const r = pixels[k];
      const g = pixels[k + 1];
      const b = pixels[k + 2];
      const max = Math.max(r, g, b);
      const min = Math.min(r, g, b);
      const saturation = max === 0 ? 0 : (max - min) / max;
      if (saturation < GREY_SATURATION) {
        histogram[HUE_BINS * SATURATION_BINS + Math.min(GREY_BINS - 1, Math.floor((max / 256) * GREY_BINS))]++;
      } else {
        const chroma = max - min;
        let hue = max === r ? (g - b) / chroma : max === g ? 2 + (b - r) / chroma : 4 + (r - g) / chroma;
        if (hue < 0) hue += 6;
        const hueBin = Math.min(HUE_BINS - 1, Math.floor((hue / 6) * HUE_BINS));
        const saturationBin = Math.min(SATURATION_BINS - 1, Math.floor(((saturation - GREY_SATURATION) / (1 - GREY_SATURATION)) * SATURATION_BINS));
        histogram[hueBin * SATURATION_BINS + saturationBin]++;
      }
      count++;
    }
  }
  return histogram.map((n) => n / count);
}

/** Bhattacharyya distance of two normalised histograms: 0 for the same colours, 1 for nothing in common. */
export function appearanceDistance(a: readonly number[], b: readonly number[]): number {
  let coefficient = 0;
  for (let i = 0; i < a.length; i++) coefficient += Math.sqrt(a[i] * b[i]);
  return Math.sqrt(Math.max(0, 1 - coefficient));
}

/** Whether a value (from a message) is a histogram appearanceOf made: APPEARANCE_BINS numbers from 0 to 1. */
export function isAppearance(value: unknown): value is readonly number[] {
  return Array.isArray(value) && value.length === APPEARANCE_BINS && value.every((v) => typeof v === 'number' && v >= 0 && v <= 1);
}
