import type { Box } from '../types';
import { matchWithCostLimit, type Matching } from './assignment';
import { iouPlusOne } from './iou';
import {
  DEFAULT_COMMON_OPTIONS,
  newlyReported,
  requireInRange,
  requireWhole,
  resolveCommonOptions,
  LOW_SCORE_FLOOR,
  splitByScore,
  Track,
  type CommonTrackOptions,
  type DetectionInput,
  type Tracker,
  type TrackerUpdate,
} from './track';

/**
 * ByteTrack (Zhang et al., 2022), reproducing the official implementation (ifzhang/ByteTrack, `BYTETracker`)
 * operation for operation; `../shared/data/mot15/TRACKERS.md` describes what it computes. High-score
 * detections are matched first, then the tracks left over get a second chance with the low-score ones, which
 * keeps a person through a partly hidden frame.
 */
export interface ByteTrackOptions extends CommonTrackOptions {
  /** Detections scoring above this are matched first and may start tracks (at `trackThresh + 0.1` or more). */
  trackThresh: number;
  /** Largest fused cost, 1 − IoU × score, of a first-round match. */
  matchThresh: number;
  /** Frames (at 30 frames/s) a lost track is kept for re-identification. */
  trackBuffer: number;
  /** Frame rate of the input: the buffer in frames is `frameRate / 30 × trackBuffer`. */
  frameRate: number;
}

export const DEFAULT_BYTETRACK_OPTIONS: ByteTrackOptions = { trackThresh: 0.5, matchThresh: 0.8, trackBuffer: 30, frameRate: 30, ...DEFAULT_COMMON_OPTIONS };

/** Largest cost 1 − IoU of a second-round match (low-score detections, no score fusion). */
const SECOND_ROUND_LIMIT = 0.5;
/** Largest fused cost of a match between a track born last frame and a remaining high-score detection. */
const UNCONFIRMED_LIMIT = 0.7;
/** Tracked and lost tracks closer than this (1 − IoU) are duplicates: the younger one goes. */
const DUPLICATE_DISTANCE = 0.15;

export function resolveByteTrackOptions(options: Partial<ByteTrackOptions>): ByteTrackOptions {
  const resolved = { ...DEFAULT_BYTETRACK_OPTIONS, ...options };
  requireInRange(resolved.trackThresh, 'trackThresh', LOW_SCORE_FLOOR, 1);
  requireInRange(resolved.matchThresh, 'matchThresh', 0, 1);
  requireWhole(resolved.trackBuffer, 'trackBuffer', 0);
  requireInRange(resolved.frameRate, 'frameRate', 0, 1000);
  resolveCommonOptions(resolved);
  return resolved;
}

const enum State {
  New,
  Tracked,
  Lost,
  Removed,
}

// The filter's noise scales with the box height: position 1/20 of it, velocity 1/160.
const WEIGHT_POSITION = 1 / 20;
const WEIGHT_VELOCITY = 1 / 160;

/**
 * ByteTrack's Kalman filter on [cx, cy, a = w/h, h] and their velocities. Each position p is coupled only
 * with its velocity, so the covariance is four 2x2 blocks [[A, B], [C, D]], B and C kept apart because the
 * reference's updates leave them unequal in the last bit.
 */
class XyahFilter {
  readonly mean = new Float64Array(8);
  private readonly a = new Float64Array(4);
  private readonly b = new Float64Array(4);
  private readonly c = new Float64Array(4);
  private readonly d = new Float64Array(4);

  constructor(z: readonly number[]) {
    const h = z[3];
    const position = [2 * WEIGHT_POSITION * h, 2 * WEIGHT_POSITION * h, 1e-2, 2 * WEIGHT_POSITION * h];
    const velocity = [10 * WEIGHT_VELOCITY * h, 10 * WEIGHT_VELOCITY * h, 1e-5, 10 * WEIGHT_VELOCITY * h];
    for (let p = 0; p < 4; p++) {
      this.mean[p] = z[p];
      this.a[p] = position[p] * position[p];
      this.d[p] = velocity[p] * velocity[p];
    }
  }

  predict(): void {
    const h = this.mean[3];
    const { mean, a, b, c, d } = this;
    for (let p = 0; p < 4; p++) {
      // The aspect ratio (p = 2) has fixed noise; the others scale with the height.
      const qPosition = p === 2 ? 1e-2 : WEIGHT_POSITION * h;
      const qVelocity = p === 2 ? 1e-5 : WEIGHT_VELOCITY * h;
      mean[p] = mean[p] + mean[p + 4];
      const ac = a[p] + c[p];
      const bd = b[p] + d[p];
      a[p] = ac + bd + qPosition * qPosition;
      b[p] = bd;
      c[p] = c[p] + d[p];
      d[p] = d[p] + qVelocity * qVelocity;
    }
  }

  /** The reference solves with a Cholesky factor of the diagonal innovation covariance: two multiplications by 1/√S. */
  update(z: readonly number[]): void {
    const h = this.mean[3];
    const { mean, a, b, c, d } = this;
    for (let p = 0; p < 4; p++) {
      const r = p === 2 ? 1e-1 : WEIGHT_POSITION * h;
      const s = a[p] + r * r;
      const inverseRoot = 1.0 / Math.sqrt(s);
      const kp = a[p] * inverseRoot * inverseRoot;
      const kv = c[p] * inverseRoot * inverseRoot;
      const y = z[p] - mean[p];
      mean[p] = mean[p] + y * kp;
      mean[p + 4] = mean[p + 4] + y * kv;
      const A = a[p];
      const B = b[p];
      const C = c[p];
      const D = d[p];
      a[p] = A - kp * (s * kp);
      b[p] = B - kp * (s * kv);
      c[p] = C - kv * (s * kp);
      d[p] = D - kv * (s * kv);
    }
  }
}

/** [x, y, w, h] to the filter's measurement [cx, cy, w/h, h]. */
function measurement(tlwh: readonly number[]): number[] {
  const [x, y, w, h] = tlwh;
  return [x + w / 2, y + h / 2, w / h, h];
}

interface ByteDetection {
  input: DetectionInput;
  index: number;
  score: number;
  tlwh: [number, number, number, number];
  /** Corners rebuilt from tlwh as the reference does: (x2 − x1) + x1 may differ from x2 in the last bit. */
  tlbr: Box;
}

function byteDetection(input: DetectionInput, index: number, score: number): ByteDetection {
  const [x1, y1, x2, y2] = input.bbox;
  const tlwh: [number, number, number, number] = [x1, y1, x2 - x1, y2 - y1];
  return { input, index, score, tlwh, tlbr: [tlwh[0], tlwh[1], tlwh[2] + tlwh[0], tlwh[3] + tlwh[1]] };
}

class ByteTrack extends Track {
  readonly filter: XyahFilter;
  state = State.Tracked;
  /** Confirmed: matched in a frame after its birth, or born in the first frame. */
  activated: boolean;
  /** Frame of the last match (the reference's `frame_id`), and of the birth. */
  lastFrame: number;
  readonly startFrame: number;
  score: number;
  /** Already in the reference's `removed_stracks` list from an earlier frame: if lost again, it is dropped at once. */
  removedEarlier = false;

  constructor(id: number, detection: ByteDetection, frame: number, timestamp: number, trailLength: number) {
    super(id, detection.input, detection.index, timestamp, trailLength);
    this.filter = new XyahFilter(measurement(detection.tlwh));
    this.activated = frame === 1;
    this.lastFrame = frame;
    this.startFrame = frame;
    this.score = detection.score;
    this.addTrailPoint();
  }

  override topLeftSize(): [number, number, number, number] {
    const { mean } = this.filter;
    const w = mean[2] * mean[3];
    const h = mean[3];
    return [mean[0] - w / 2, mean[1] - h / 2, w, h];
  }

  /** The filter's mean: after a match its posterior, otherwise its prediction. */
  get bbox(): Box {
    const [x, y, w, h] = this.topLeftSize();
    return [x, y, w + x, h + y];
  }

  velocity(): [number, number] {
    return [this.filter.mean[4], this.filter.mean[5]];
  }

  /** Every live track, predicted or not (the reference does not predict tracks born last frame). */
  newFrame(): void {
    this.aged();
  }

  predict(): void {
    if (this.state !== State.Tracked) this.filter.mean[7] = 0;
    this.filter.predict();
  }

  /** A match: an update of a tracked track, a re-activation of a lost one, or the first match of a new one. */
  match(detection: ByteDetection, frame: number, timestamp: number): void {
    this.filter.update(measurement(detection.tlwh));
    this.state = State.Tracked;
    this.activated = true;
    this.lastFrame = frame;
    this.score = detection.score;
    this.seen(detection.input, detection.index, timestamp);
  }
}

/**
 * Cost matrix, rows tracks, columns boxes: 1 − IoU, or with `scores` the fused 1 − IoU × score, computed as the
 * reference does (1 − (1 − IoU) is not always the IoU).
 */
function costs(tracks: readonly ByteTrack[], boxes: readonly Box[], scores?: readonly number[]): Float64Array {
  const cost = new Float64Array(tracks.length * boxes.length);
  tracks.forEach((track, i) => {
    const box = track.bbox;
    boxes.forEach((other, j) => {
      const distance = 1 - iouPlusOne(box, other);
      cost[i * boxes.length + j] = scores ? 1 - (1 - distance) * scores[j] : distance;
    });
  });
  return cost;
}

/** Rows are tracks, columns detections. */
function match(tracks: readonly ByteTrack[], detections: readonly ByteDetection[], fuseScore: boolean, limit: number): Matching {
  const boxes = detections.map((d) => d.tlbr);
  return matchWithCostLimit(costs(tracks, boxes, fuseScore ? detections.map((d) => d.score) : undefined), tracks.length, detections.length, limit);
}

/** `a` followed by the members of `b` not in `a`. */
function joined(a: readonly ByteTrack[], b: readonly ByteTrack[]): ByteTrack[] {
  const ids = new Set(a.map((t) => t.id));
  return [...a, ...b.filter((t) => !ids.has(t.id))];
}

function without(a: readonly ByteTrack[], b: readonly ByteTrack[]): ByteTrack[] {
  const ids = new Set(b.map((t) => t.id));
  return a.filter((t) => !ids.has(t.id));
}

export class ByteTracker implements Tracker {
  readonly options: ByteTrackOptions;
  /** Frames a lost track is kept. */
  readonly maxTimeLost: number;
  private tracked: ByteTrack[] = [];
  private lost: ByteTrack[] = [];
  private frame = 0;
  private nextId = 1;

  constructor(options: Partial<ByteTrackOptions> = {}) {
    this.options = resolveByteTrackOptions(options);
    this.maxTimeLost = Math.trunc((this.options.frameRate / 30.0) * this.options.trackBuffer);
  }

  get activeTracks(): readonly Track[] {
    return [...this.tracked, ...this.lost];
  }

  reset(): Track[] {
    const ended = this.activeTracks.filter((t) => t.reported);
    this.tracked = [];
    this.lost = [];
    this.frame = 0;
    return ended;
  }

  update(detections: readonly DetectionInput[], timestamp = 0): TrackerUpdate {
    const frame = ++this.frame;
    const { trackThresh, matchThresh, trailLength } = this.options;
    const detThresh = trackThresh + 0.1;
    const split = splitByScore(detections, this.options.maxDetections, trackThresh);
    const [high, low] = [split.high, split.low].map((indices) => indices.map((index) => byteDetection(detections[index], index, split.scores[index])));

    const unconfirmed = this.tracked.filter((t) => !t.activated);
    const confirmed = this.tracked.filter((t) => t.activated);
    const activated: ByteTrack[] = [];
    const refound: ByteTrack[] = [];
    const newlyLost: ByteTrack[] = [];
    const newlyRemoved: ByteTrack[] = [];

    for (const track of this.tracked) track.newFrame();
    for (const track of this.lost) track.newFrame();
    const pool = joined(confirmed, this.lost);
    for (const track of pool) track.predict();
    const first = match(pool, high, true, matchThresh);
    for (const [i, j] of first.pairs) {
      const track = pool[i];
      (track.state === State.Tracked ? activated : refound).push(track);
      track.match(high[j], frame, timestamp);
    }

    const leftover = first.unmatchedRows.map((i) => pool[i]).filter((t) => t.state === State.Tracked);
    const second = match(leftover, low, false, SECOND_ROUND_LIMIT);
    for (const [i, j] of second.pairs) {
      leftover[i].match(low[j], frame, timestamp);
      activated.push(leftover[i]);
    }
    for (const i of second.unmatchedRows) {
      leftover[i].state = State.Lost;
      newlyLost.push(leftover[i]);
    }

    const remaining = first.unmatchedColumns.map((j) => high[j]);
    const third = match(unconfirmed, remaining, true, UNCONFIRMED_LIMIT);
    for (const [i, j] of third.pairs) {
      unconfirmed[i].match(remaining[j], frame, timestamp);
      activated.push(unconfirmed[i]);
    }
    for (const i of third.unmatchedRows) {
      unconfirmed[i].state = State.Removed;
      newlyRemoved.push(unconfirmed[i]);
    }
    for (const j of third.unmatchedColumns) {
      if (remaining[j].score < detThresh) continue;
      activated.push(new ByteTrack(this.nextId++, remaining[j], frame, timestamp, trailLength));
    }

    for (const track of this.lost) {
      if (frame - track.lastFrame > this.maxTimeLost) {
        track.state = State.Removed;
        newlyRemoved.push(track);
      }
    }

    const before = new Set([...this.tracked, ...this.lost]);
    let tracked = this.tracked.filter((t) => t.state === State.Tracked);
    tracked = joined(tracked, activated);
    tracked = joined(tracked, refound);
    let lost = without(this.lost, tracked);
    lost.push(...newlyLost);
    lost = lost.filter((t) => !t.removedEarlier);
    for (const track of newlyRemoved) track.removedEarlier = true;
    [this.tracked, this.lost] = removeDuplicates(tracked, lost);

    const reported = this.tracked.filter((t) => t.activated);
    const started = newlyReported(reported);
    const alive = new Set([...this.tracked, ...this.lost]);
    const ended = [...before].filter((t) => !alive.has(t) && t.reported);
    return { tracks: reported, started, ended };
  }
}

/** Of a tracked and a lost track on nearly the same box, keeps the one followed longer; on a tie, the lost one. */
function removeDuplicates(tracked: ByteTrack[], lost: ByteTrack[]): [ByteTrack[], ByteTrack[]] {
  if (tracked.length === 0 || lost.length === 0) return [tracked, lost];
  const dropTracked = new Set<number>();
  const dropLost = new Set<number>();
  const cost = costs(tracked, lost.map((t) => t.bbox));
  for (let p = 0; p < tracked.length; p++) {
    for (let q = 0; q < lost.length; q++) {
      if (!(cost[p * lost.length + q] < DUPLICATE_DISTANCE)) continue;
      const timeP = tracked[p].lastFrame - tracked[p].startFrame;
      const timeQ = lost[q].lastFrame - lost[q].startFrame;
      if (timeP > timeQ) dropLost.add(q);
      else dropTracked.add(p);
    }
  }
  return [tracked.filter((_, p) => !dropTracked.has(p)), lost.filter((_, q) => !dropLost.has(q))];
}
