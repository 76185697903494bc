import type { Box } from '../types';
import { solveAssignment } from './assignment';
import { iou } from './iou';
import { BoxKalmanFilter, type FilterSnapshot, type Measurement } from './kalman';
import { SortFamilyTracker } from './sort';
import {
  DEFAULT_COMMON_OPTIONS,
  requireInRange,
  requireWhole,
  resolveCommonOptions,
  LOW_SCORE_FLOOR,
  splitByScore,
  Track,
  type CommonTrackOptions,
  type DetectionInput,
} from './track';

/**
 * OC-SORT (Cao et al., 2023), reproducing the official implementation (noahcao/OC_SORT, `OCSort`) operation
 * for operation; `../shared/data/mot15/TRACKERS.md` describes what it computes. SORT's filter, corrected by
 * observations: the direction a person moved weighs in the matching, a track lost for a few frames is
 * re-matched against where it was last seen, and when it is found again its filter is re-run along a straight
 * path through the gap, so a person who was hidden keeps a sensible velocity.
 */
export interface OcSortOptions extends CommonTrackOptions {
  /** Detections scoring above this are matched and may start tracks. */
  detThresh: number;
  /** Frames a track survives without a matching detection. */
  maxAge: number;
  /** Consecutive matches before a track is reported (every track is reported during the first minHits frames). */
  minHits: number;
  /** Minimum IoU of a match. */
  iouThreshold: number;
  /** Frames back to the observation the direction of motion is measured from. */
  deltaT: number;
  /** Weight of the direction of motion against the IoU in the matching. */
  inertia: number;
  /** Second round with the detections scoring between 0.1 and detThresh, as ByteTrack does. */
  useByte: boolean;
}

export const DEFAULT_OCSORT_OPTIONS: OcSortOptions = {
  detThresh: 0.6,
  maxAge: 30,
  minHits: 3,
  iouThreshold: 0.3,
  deltaT: 3,
  inertia: 0.2,
  useByte: false,
  ...DEFAULT_COMMON_OPTIONS,
};

const NO_OBSERVATION: Observation = [-1, -1, -1, -1, -1];

export function resolveOcSortOptions(options: Partial<OcSortOptions>): OcSortOptions {
  const resolved = { ...DEFAULT_OCSORT_OPTIONS, ...options };
  requireInRange(resolved.detThresh, 'detThresh', LOW_SCORE_FLOOR, 1);
  requireWhole(resolved.maxAge, 'maxAge', 0);
  requireWhole(resolved.minHits, 'minHits', 0);
  requireInRange(resolved.iouThreshold, 'iouThreshold', 0, 1);
  requireWhole(resolved.deltaT, 'deltaT', 1);
  requireInRange(resolved.inertia, 'inertia', 0, 1, true);
  if (typeof resolved.useByte !== 'boolean') throw new RangeError(`useByte must be true or false, got ${resolved.useByte}`);
  resolveCommonOptions(resolved);
  return resolved;
}

/** A detection as OC-SORT keeps it: corners and score. */
type Observation = [x1: number, y1: number, x2: number, y2: number, score: number];

function measurement(box: Box): Measurement {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  return [box[0] + w / 2.0, box[1] + h / 2.0, w * h, w / (h + 1e-6)];
}

const sum = (o: Observation) => o[0] + o[1] + o[2] + o[3] + o[4];

/** Unit vector from one observation's centre to another's, as (dy, dx). */
function direction(from: Observation, to: Observation): [number, number] {
  const cx1 = (from[0] + from[2]) / 2.0;
  const cy1 = (from[1] + from[3]) / 2.0;
  const cx2 = (to[0] + to[2]) / 2.0;
  const cy2 = (to[1] + to[3]) / 2.0;
  const dy = cy2 - cy1;
  const dx = cx2 - cx1;
  const norm = Math.sqrt(dy * dy + dx * dx) + 1e-6;
  return [dy / norm, dx / norm];
}

class OcSortTrack extends Track {
  readonly filter: BoxKalmanFilter;
  /** The (dy, dx) direction of motion, once measured. */
  direction: [number, number] | null = null;
  lastObservation: Observation = NO_OBSERVATION;
  /** Recent observations by age, oldest first: the last deltaT are all the reference ever reads. */
  private readonly observations: { age: number; box: Observation }[] = [];
  /** The filter kept the moment the track was first missed, while it had been updated before. */
  private frozen: FilterSnapshot | null = null;
  private observed = false;
  /** The last measurement the filter was updated with (a re-run's last step counts), and the frames missed since. */
  private lastMeasurement: Measurement | null = null;
  private missedSince = 0;

  constructor(id: number, input: DetectionInput, index: number, timestamp: number, trailLength: number, private readonly deltaT: number) {
    super(id, input, index, timestamp, trailLength);
    this.filter = new BoxKalmanFilter(input.bbox, measurement);
    this.addTrailPoint();
  }

  /** The last observation when the track has one, else the filter's box. */
  get bbox(): Box {
    return sum(this.lastObservation) >= 0 ? (this.lastObservation.slice(0, 4) as Box) : this.filter.box();
  }

  velocity(): [number, number] {
    return this.filter.velocity();
  }

  predict(): Box {
    this.filter.predict();
    this.aged();
    return this.filter.box();
  }

  /** The observation deltaT frames back, else the nearest younger one within that window, else the latest. */
  previousObservation(): Observation {
    return this.observedWithinDeltaT() ?? this.observations.at(-1)?.box ?? NO_OBSERVATION;
  }

  update(observation: Observation, input: DetectionInput, index: number, timestamp: number): void {
    if (sum(this.lastObservation) >= 0) this.direction = direction(this.observedWithinDeltaT() ?? this.lastObservation, observation);
    this.lastObservation = observation;
    this.observations.push({ age: this.age, box: observation });
    if (this.observations.length > this.deltaT) this.observations.shift();
    this.updateFilter(measurement(input.bbox));
    this.seen(input, index, timestamp);
  }

  missed(): void {
    if (this.observed) this.frozen = this.filter.save();
    this.observed = false;
    this.missedSince++;
  }

  private observedWithinDeltaT(): Observation | null {
    for (let dt = this.deltaT; dt >= 1; dt--) {
      const found = this.observations.find((o) => o.age === this.age - dt);
      if (found) return found.box;
    }
    return null;
  }

  private updateFilter(z: Measurement): void {
    if (!this.observed && this.frozen) this.rerunThroughGap(z);
    else this.lastMeasurement = z;
    this.missedSince = 0;
    this.observed = true;
    this.filter.updateMeasurement(z);
  }

  /**
   * Observation-centric re-update: back to the filter as it was when the track was lost, then updated along a
   * straight line from the last measurement before the gap to this one, a step per frame.
   */
  private rerunThroughGap(z: Measurement): void {
    this.filter.restore(this.frozen!);
    this.frozen = null;
    const [cx1, cy1, s1, r1] = this.lastMeasurement!;
    const [cx2, cy2, s2, r2] = z;
    const w1 = Math.sqrt(s1 * r1);
    const h1 = Math.sqrt(s1 / r1);
    const w2 = Math.sqrt(s2 * r2);
    const h2 = Math.sqrt(s2 / r2);
    const gap = this.missedSince + 1;
    const dcx = (cx2 - cx1) / gap;
    const dcy = (cy2 - cy1) / gap;
    const dw = (w2 - w1) / gap;
    const dh = (h2 - h1) / gap;
    for (let i = 0; i < gap; i++) {
      const w = w1 + (i + 1) * dw;
      const h = h1 + (i + 1) * dh;
      const step: Measurement = [cx1 + (i + 1) * dcx, cy1 + (i + 1) * dcy, w * h, w / h];
      this.filter.updateMeasurement(step);
      this.lastMeasurement = step;
      if (i !== gap - 1) this.filter.predict(false);
    }
  }
}

export class OcSortTracker extends SortFamilyTracker<OcSortTrack> {
  readonly options: OcSortOptions;

  constructor(options: Partial<OcSortOptions> = {}) {
    const resolved = resolveOcSortOptions(options);
    super(resolved);
    this.options = resolved;
  }

  protected matchAndStart(detections: readonly DetectionInput[], predictions: readonly Box[], timestamp: number): void {
    const { detThresh, iouThreshold, useByte, inertia } = this.options;
    const { high, low, scores } = splitByScore(detections, this.options.maxDetections, detThresh);
    const observations: Observation[] = [];
    for (const index of [...high, ...low]) {
      const [x1, y1, x2, y2] = detections[index].bbox;
      observations[index] = [x1, y1, x2, y2, scores[index]];
    }
    const tracks = this.tracks;

    const highBoxes = high.map((i) => observations[i]);
    const first = associate(highBoxes, predictions, tracks, iouThreshold, inertia);
    const update = (t: number, index: number) => tracks[t].update(observations[index], detections[index], index, timestamp);
    for (const [d, t] of first.matches) update(t, high[d]);
    let unmatchedDetections = first.unmatchedDetections;
    let unmatchedTracks = first.unmatchedTracks;

    if (useByte && low.length > 0 && unmatchedTracks.length > 0) {
      const overlaps = iouMatrix(low.map((i) => observations[i]), unmatchedTracks.map((t) => predictions[t]));
      if (max(overlaps) > iouThreshold) {
        const updated = new Set<number>();
        for (const [d, k] of assignMaximum(overlaps, low.length, unmatchedTracks.length)) {
          if (overlaps[d * unmatchedTracks.length + k] < iouThreshold) continue;
          update(unmatchedTracks[k], low[d]);
          updated.add(unmatchedTracks[k]);
        }
        unmatchedTracks = unmatchedTracks.filter((t) => !updated.has(t)).sort((a, b) => a - b);
      }
    }

    if (unmatchedDetections.length > 0 && unmatchedTracks.length > 0) {
      const lastBoxes = unmatchedTracks.map((t) => first.lastObservations[t].slice(0, 4) as Box);
      const overlaps = iouMatrix(unmatchedDetections.map((d) => highBoxes[d]), lastBoxes);
      if (max(overlaps) > iouThreshold) {
        const matchedDetections = new Set<number>();
        const matchedTracks = new Set<number>();
        for (const [i, k] of assignMaximum(overlaps, unmatchedDetections.length, unmatchedTracks.length)) {
          if (overlaps[i * unmatchedTracks.length + k] < iouThreshold) continue;
          update(unmatchedTracks[k], high[unmatchedDetections[i]]);
          matchedDetections.add(unmatchedDetections[i]);
          matchedTracks.add(unmatchedTracks[k]);
        }
        unmatchedDetections = unmatchedDetections.filter((d) => !matchedDetections.has(d)).sort((a, b) => a - b);
        unmatchedTracks = unmatchedTracks.filter((t) => !matchedTracks.has(t)).sort((a, b) => a - b);
      }
    }

    for (const t of unmatchedTracks) tracks[t].missed();
    for (const d of unmatchedDetections) {
      const index = high[d];
      this.tracks.push(new OcSortTrack(this.nextId++, detections[index], index, timestamp, this.options.trailLength, this.options.deltaT));
    }
  }
}

/** Rows `a` (detections) × columns `b` (track boxes), row-major. */
function iouMatrix(a: readonly (Box | Observation)[], b: readonly Box[]): Float64Array {
  const overlaps = new Float64Array(a.length * b.length);
  for (let i = 0; i < a.length; i++) for (let j = 0; j < b.length; j++) overlaps[i * b.length + j] = iou(a[i] as Box, b[j]);
  return overlaps;
}

const max = (values: Float64Array) => values.reduce((m, v) => (v > m ? v : m), -Infinity);

/** Pairs (row, column) of the assignment maximising the total, in row order. */
function assignMaximum(values: Float64Array, rows: number, columns: number): [number, number][] {
  const columnOfRow = solveAssignment(values.map((v) => -v), rows, columns);
  const pairs: [number, number][] = [];
  columnOfRow.forEach((j, i) => {
    if (j >= 0) pairs.push([i, j]);
  });
  return pairs;
}

interface Association {
  matches: [detection: number, track: number][];
  unmatchedDetections: number[];
  unmatchedTracks: number[];
  /** Every track's last observation from before this frame's matches. */
  lastObservations: Observation[];
}

/**
 * The first round: IoU with the predicted boxes plus the agreement between each track's direction of motion and
 * the direction from its observation deltaT frames back to the detection, weighted by `inertia` and the score.
 */
function associate(detections: readonly Observation[], predictions: readonly Box[], tracks: readonly OcSortTrack[], threshold: number, inertia: number): Association {
  const lastObservations = tracks.map((t) => t.lastObservation);
  if (tracks.length === 0) return { matches: [], unmatchedDetections: detections.map((_, d) => d), unmatchedTracks: [], lastObservations };
  const rows = detections.length;
  const columns = tracks.length;
  const overlaps = iouMatrix(detections, predictions);
  let pairs: [number, number][] = [];
  if (rows > 0) {
    const aboveInRow = new Int32Array(rows);
    const aboveInColumn = new Int32Array(columns);
    for (let d = 0; d < rows; d++) {
      for (let t = 0; t < columns; t++) {
        if (overlaps[d * columns + t] > threshold) {
          aboveInRow[d]++;
          aboveInColumn[t]++;
        }
      }
    }
    if (Math.max(...aboveInRow) === 1 && Math.max(...aboveInColumn) === 1) {
      for (let d = 0; d < rows; d++) for (let t = 0; t < columns; t++) if (overlaps[d * columns + t] > threshold) pairs.push([d, t]);
    } else {
      const score = new Float64Array(rows * columns);
      tracks.forEach((track, t) => {
        const [vy, vx] = track.direction ?? [0, 0];
        const previous = track.previousObservation();
        const valid = previous[4] < 0 ? 0 : 1;
        const pcx = (previous[0] + previous[2]) / 2.0;
        const pcy = (previous[1] + previous[3]) / 2.0;
        for (let d = 0; d < rows; d++) {
          const o = detections[d];
          const dx = (o[0] + o[2]) / 2.0 - pcx;
          const dy = (o[1] + o[3]) / 2.0 - pcy;
          const norm = Math.sqrt(dx * dx + dy * dy) + 1e-6;
          const cos = Math.min(1, Math.max(-1, vx * (dx / norm) + vy * (dy / norm)));
          const angle = (Math.PI / 2.0 - Math.abs(Math.acos(cos))) / Math.PI;
          score[d * columns + t] = overlaps[d * columns + t] + valid * angle * inertia * o[4];
        }
      });
      pairs = assignMaximum(score, rows, columns);
    }
  }
  const pairedDetections = new Set(pairs.map(([d]) => d));
  const pairedTracks = new Set(pairs.map(([, t]) => t));
  const unmatchedDetections = detections.map((_, d) => d).filter((d) => !pairedDetections.has(d));
  const unmatchedTracks = tracks.map((_, t) => t).filter((t) => !pairedTracks.has(t));
  const matches: [number, number][] = [];
  for (const [d, t] of pairs) {
    if (overlaps[d * columns + t] < threshold) {
      unmatchedDetections.push(d);
      unmatchedTracks.push(t);
    } else matches.push([d, t]);
  }
  return { matches, unmatchedDetections, unmatchedTracks, lastObservations };
}
