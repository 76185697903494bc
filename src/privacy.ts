import { opencv, withMat, type Mat } from './opencv';
import type { Box } from './types';

/** A box as whole pixels inside a width x height image, or null when less than 2 pixels remain. */
export function clampBox(box: Box, width: number, height: number): [number, number, number, number] | null {
  if (!Array.isArray(box) || !box.slice(0, 4).every(Number.isFinite)) return null;
  const x1 = Math.max(0, Math.floor(box[0]));
  const y1 = Math.max(0, Math.floor(box[1]));
  const x2 = Math.min(width, Math.ceil(box[2]));
  const y2 = Math.min(height, Math.ceil(box[3]));
  return x2 - x1 >= 2 && y2 - y1 >= 2 ? [x1, y1, x2, y2] : null;
}

/** Blurs the given boxes of a Mat in place, strongly enough that faces cannot be recognised. */
export function blurRegions(mat: Mat, boxes: readonly Box[]): void {
  const cv = opencv();
  for (const box of boxes) {
    const rect = clampBox(box, mat.cols, mat.rows);
    if (!rect) continue;
    const [x1, y1, x2, y2] = rect;
    const region = mat.getRegion(new cv.Rect(x1, y1, x2 - x1, y2 - y1));
    const kernel = Math.max(9, Math.floor(Math.min(x2 - x1, y2 - y1) / 3) | 1);
    withMat(region.blur(new cv.Size(kernel, kernel)), (blurred) => blurred.copyTo(region));
    region.release();
  }
}
