import type { Box } from '../types';

/**
 * Intersection over union as SORT and OC-SORT compute it; `a` is the detection, `b` the track's box. The
 * order of operations is theirs, because IoUs exactly at a threshold decide matches.
 */
export function iou(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const wh = w * h;
  return wh / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - wh);
}

/**
 * Intersection over union with the "+1 pixel" convention of Fast R-CNN's `bbox_overlaps`, which ByteTrack
 * uses: a box from x1 to x2 is x2 - x1 + 1 pixels wide. `b` is the track's box, `q` the detection.
 */
export function iouPlusOne(b: Box, q: Box): number {
  const iw = Math.min(b[2], q[2]) - Math.max(b[0], q[0]) + 1;
  if (!(iw > 0)) return 0;
  const ih = Math.min(b[3], q[3]) - Math.max(b[1], q[1]) + 1;
  if (!(ih > 0)) return 0;
  const ua = (b[2] - b[0] + 1) * (b[3] - b[1] + 1) + (q[2] - q[0] + 1) * (q[3] - q[1] + 1) - iw * ih;
  return (iw * ih) / ua;
}

/**
 * Box heights within a factor of 1.5 of each other: the same person a moment apart. A box much smaller is part of
 * someone (head and shoulders above an obstacle), and its bottom is not where they stand.
 */
export function similarHeights(a: number, b: number): boolean {
  const ratio = a / b;
  return ratio >= 2 / 3 && ratio <= 3 / 2;
}
