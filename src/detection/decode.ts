import type { Box } from '../types';

export interface Candidate {
  box: Box;
  score: number;
  classId: number;
}

export interface DecodeOptions {
  /** Keep a candidate only when its best class score is strictly above this. */
  confidence: number;
  /** Class ids to keep, or null for all. Applied after choosing each anchor's best class, as Ultralytics does. */
  classes: ReadonlySet<number> | null;
}

/**
 * Reads a YOLOv8 head output laid out [1, 4 + numClasses, numAnchors] (cx, cy, w, h, then one score per
 * class, no objectness) and returns the anchors whose best class passes the threshold, in input pixels.
 */
export function decodeYolov8(output: Float32Array, numClasses: number, numAnchors: number, options: DecodeOptions): Candidate[] {
  if (output.length < (4 + numClasses) * numAnchors) {
    throw new RangeError(`output has ${output.length} values, expected ${(4 + numClasses) * numAnchors}`);
  }
  const allClasses = Array.from({ length: numClasses }, (_, c) => c);
  const searched = options.classes ? allClasses.filter((c) => options.classes!.has(c)) : allClasses;
  const anchors = anchorsAbove(output, numAnchors, searched, options.confidence);
  const candidates: Candidate[] = [];
  for (const i of anchors) {
    // The best class over all classes decides, as in Ultralytics; the filter applies after.
    let score = -Infinity;
    let classId = 0;
    for (let c = 0; c < numClasses; c++) {
      const value = output[(4 + c) * numAnchors + i];
      if (value > score) {
        score = value;
        classId = c;
      }
    }
    if (!(score > options.confidence)) continue;
    if (options.classes && !options.classes.has(classId)) continue;
    const cx = output[i];
    const cy = output[numAnchors + i];
    const halfW = output[2 * numAnchors + i] / 2;
    const halfH = output[3 * numAnchors + i] / 2;
    candidates.push({ box: [cx - halfW, cy - halfH, cx + halfW, cy + halfH], score, classId });
  }
  return candidates;
}

/**
 * Anchors scoring above the threshold in any of `classes`, reading whole class rows so every read is
 * sequential. Only these can have one of `classes` as their best class above the threshold, so with a class
 * filter the other rows (79 of 80 for people) are never read.
 */
function anchorsAbove(output: Float32Array, numAnchors: number, classes: Iterable<number>, confidence: number): number[] {
  const above = new Uint8Array(numAnchors);
  for (const c of classes) {
    const row = (4 + c) * numAnchors;
    for (let i = 0; i < numAnchors; i++) {
      if (output[row + i] > confidence) above[i] = 1;
    }
  }
  const anchors: number[] = [];
  for (let i = 0; i < numAnchors; i++) if (above[i]) anchors.push(i);
  return anchors;
}

export function iou(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const intersection = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection;
  return union > 0 ? intersection / union : 0;
}

/**
 * Greedy class-aware non-maximum suppression: a candidate is dropped when a higher-scoring candidate of
 * the same class overlaps it with IoU above `iouThreshold`. Returns at most `maxDetections`, best first.
 */
export function nonMaxSuppression<T extends Candidate>(candidates: readonly T[], iouThreshold: number, maxDetections = 300): T[] {
  const sorted = [...candidates].sort((a, b) => b.score - a.score);
  const kept: T[] = [];
  for (const candidate of sorted) {
    if (kept.length >= maxDetections) break;
    const suppressed = kept.some((k) => k.classId === candidate.classId && iou(k.box, candidate.box) > iouThreshold);
    if (!suppressed) kept.push(candidate);
  }
  return kept;
}
