import { solveAssignment } from './assignment';
import type { MotRow } from './mot';

/**
 * MOTChallenge evaluation as py-motmetrics and the official devkit do it: per frame, ground-truth objects and
 * hypotheses are paired when their IoU is at least 0.5; a pairing from earlier frames is kept while it stays
 * valid, the rest are assigned to maximise the number of pairs and then minimise 1 - IoU. CLEAR MOT counts
 * misses, false positives, identity switches (an object paired with a different hypothesis than the last
 * one it had) and fragmentations; identity metrics pair ids globally, once per sequence.
 */
export interface MotMetrics {
  frames: number;
  groundTruthObjects: number;
  groundTruthDetections: number;
  hypothesisDetections: number;
  matches: number;
  /** Percentages, as MOTChallenge reports them. */
  MOTA: number;
  /** Mean IoU of matched pairs, in percent (py-motmetrics reports 1 - this / 100 as its motp). */
  MOTP: number;
  IDF1: number;
  IDP: number;
  IDR: number;
  FP: number;
  FN: number;
  IDs: number;
  Frag: number;
  MT: number;
  PT: number;
  ML: number;
  IDTP: number;
  IDFP: number;
  IDFN: number;
}

export interface EvaluateOptions {
  /** Minimum IoU for a pair (0.5 in MOTChallenge). */
  minIou: number;
  /** Ground-truth rows below this confidence are ignored (MOT15: 0 marks rows to ignore). */
  minConfidence: number;
}

const DEFAULT_EVALUATE_OPTIONS: EvaluateOptions = { minIou: 0.5, minConfidence: 1 };

function boxIou(a: MotRow, b: MotRow): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const intersection = w * h;
  return intersection / (a.w * a.h + b.w * b.h - intersection);
}

function byFrame(rows: readonly MotRow[]): Map<number, MotRow[]> {
  const frames = new Map<number, MotRow[]>();
  for (const row of rows) {
    const list = frames.get(row.frame);
    if (list) list.push(row);
    else frames.set(row.frame, [row]);
  }
  return frames;
}

/** Pairs as many rows with columns as possible among finite costs, then with the least total cost. */
function assignFinite(cost: Float64Array, rows: number, columns: number): Int32Array {
  let largest = 0;
  let anyFinite = false;
  for (const c of cost) {
    if (Number.isFinite(c)) {
      anyFinite = true;
      largest = Math.max(largest, Math.abs(c));
    }
  }
  if (!anyFinite) return new Int32Array(rows).fill(-1);
  // Any pairing that uses a missing edge must cost more than every pairing without it.
  const expensive = 2 * Math.min(rows, columns) * (largest + 1) + 1;
  const filled = cost.map((c) => (Number.isFinite(c) ? c : expensive));
  const assignment = solveAssignment(filled, rows, columns);
  return assignment.map((j, i) => (j >= 0 && Number.isFinite(cost[i * columns + j]) ? j : -1));
}

export function evaluateMot(groundTruth: readonly MotRow[], hypotheses: readonly MotRow[], options: Partial<EvaluateOptions> = {}): MotMetrics {
  const { minIou, minConfidence } = { ...DEFAULT_EVALUATE_OPTIONS, ...options };
  const gtFrames = byFrame(groundTruth.filter((r) => r.score >= minConfidence));
  const hypFrames = byFrame(hypotheses);
  const frames = [...new Set([...gtFrames.keys(), ...hypFrames.keys()])].sort((a, b) => a - b);

  const lastHypothesis = new Map<number, number>();
  const present = new Map<number, number>();
  const tracked = new Map<number, number>();
  /** Per object, its frames in order, true where it was paired: for fragmentations. */
  const history = new Map<number, boolean[]>();
  /** Frames in which object o and hypothesis h could be paired (IoU above the minimum): for identity metrics. */
  const pairable = new Map<number, Map<number, number>>();
  const hypothesisIds = new Set<number>();
  let misses = 0;
  let falsePositives = 0;
  let switches = 0;
  let matches = 0;
  let overlapSum = 0;
  let gtCount = 0;
  let hypCount = 0;

  for (const frame of frames) {
    const objects = gtFrames.get(frame) ?? [];
    const hyps = hypFrames.get(frame) ?? [];
    gtCount += objects.length;
    hypCount += hyps.length;
    const rows = objects.length;
    const columns = hyps.length;
    const distance = new Float64Array(rows * columns);
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < columns; j++) {
        const overlap = boxIou(objects[i], hyps[j]);
        distance[i * columns + j] = overlap >= minIou ? 1 - overlap : NaN;
        if (overlap >= minIou) {
          const counts = pairable.get(objects[i].id) ?? new Map<number, number>();
          counts.set(hyps[j].id, (counts.get(hyps[j].id) ?? 0) + 1);
          pairable.set(objects[i].id, counts);
        }
      }
    }
    for (const h of hyps) hypothesisIds.add(h.id);

    const hypOfObject = new Int32Array(rows).fill(-1);
    const hypTaken = new Uint8Array(columns);
    // Keep pairings that are still valid.
    for (let i = 0; i < rows; i++) {
      const previous = lastHypothesis.get(objects[i].id);
      if (previous === undefined) continue;
      const j = hyps.findIndex((h, k) => h.id === previous && !hypTaken[k]);
      if (j >= 0 && Number.isFinite(distance[i * columns + j])) {
        hypOfObject[i] = j;
        hypTaken[j] = 1;
      }
    }
    // Assign the rest.
    const freeRows = [...Array(rows).keys()].filter((i) => hypOfObject[i] < 0);
    const freeColumns = [...Array(columns).keys()].filter((j) => !hypTaken[j]);
    if (freeRows.length > 0 && freeColumns.length > 0) {
      const cost = new Float64Array(freeRows.length * freeColumns.length);
      freeRows.forEach((i, r) => freeColumns.forEach((j, c) => (cost[r * freeColumns.length + c] = distance[i * columns + j])));
      const assignment = assignFinite(cost, freeRows.length, freeColumns.length);
      assignment.forEach((c, r) => {
        if (c < 0) return;
        const i = freeRows[r];
        const j = freeColumns[c];
        const previous = lastHypothesis.get(objects[i].id);
        if (previous !== undefined && previous !== hyps[j].id) switches++;
        hypOfObject[i] = j;
        hypTaken[j] = 1;
      });
    }
    for (let i = 0; i < rows; i++) {
      const id = objects[i].id;
      present.set(id, (present.get(id) ?? 0) + 1);
      const j = hypOfObject[i];
      const list = history.get(id) ?? [];
      list.push(j >= 0);
      history.set(id, list);
      if (j < 0) {
        misses++;
        continue;
      }
      matches++;
      overlapSum += 1 - distance[i * columns + j];
      tracked.set(id, (tracked.get(id) ?? 0) + 1);
      lastHypothesis.set(id, hyps[j].id);
    }
    for (let j = 0; j < columns; j++) if (!hypTaken[j]) falsePositives++;
  }

  let fragmentations = 0;
  for (const list of history.values()) {
    const first = list.indexOf(true);
    const last = list.lastIndexOf(true);
    for (let k = first + 1; first >= 0 && k <= last; k++) if (list[k - 1] && !list[k]) fragmentations++;
  }
  let mostlyTracked = 0;
  let mostlyLost = 0;
  for (const [id, count] of present) {
    const ratio = (tracked.get(id) ?? 0) / count;
    if (ratio >= 0.8) mostlyTracked++;
    else if (ratio < 0.2) mostlyLost++;
  }

  const idtp = identityTruePositives(pairable, [...present.keys()], [...hypothesisIds]);
  const idfp = hypCount - idtp;
  const idfn = gtCount - idtp;
  const percent = (v: number) => (Number.isFinite(v) ? v * 100 : 0);
  return {
    frames: frames.length,
    groundTruthObjects: present.size,
    groundTruthDetections: gtCount,
    hypothesisDetections: hypCount,
    matches,
    MOTA: percent(1 - (misses + falsePositives + switches) / gtCount),
    MOTP: percent(overlapSum / matches),
    IDF1: percent((2 * idtp) / (gtCount + hypCount)),
    IDP: percent(idtp / hypCount),
    IDR: percent(idtp / gtCount),
    FP: falsePositives,
    FN: misses,
    IDs: switches,
    Frag: fragmentations,
    MT: mostlyTracked,
    PT: present.size - mostlyTracked - mostlyLost,
    ML: mostlyLost,
    IDTP: idtp,
    IDFP: idfp,
    IDFN: idfn,
  };
}

/** The most frames that a one-to-one pairing of object ids with hypothesis ids can explain. */
function identityTruePositives(pairable: Map<number, Map<number, number>>, objectIds: number[], hypothesisIds: number[]): number {
  if (objectIds.length === 0 || hypothesisIds.length === 0) return 0;
  const columnOf = new Map(hypothesisIds.map((h, j) => [h, j]));
  const cost = new Float64Array(objectIds.length * hypothesisIds.length);
  objectIds.forEach((o, i) => {
    for (const [h, frames] of pairable.get(o) ?? []) cost[i * hypothesisIds.length + columnOf.get(h)!] = -frames;
  });
  const assignment = solveAssignment(cost, objectIds.length, hypothesisIds.length);
  let total = 0;
  assignment.forEach((j, i) => {
    if (j >= 0) total -= cost[i * hypothesisIds.length + j];
  });
  return total;
}
