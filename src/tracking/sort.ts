import type { Box } from '../types';
import { solveAssignment } from './assignment';
import { BoxKalmanFilter } from './kalman';

export interface SortOptions {
  /** Frames a track survives without a matching detection. */
  maxAge: number;
  /** Consecutive matches before a track is reported (every track is reported during the first minHits frames). */
  minHits: number;
  /** Minimum IoU between a detection and a track's prediction for them to be matched; must be above 0. */
  iouThreshold: number;
  /** Bottom-centre points kept per track for drawing. */
  trailLength: number;
  /** Detections considered per frame, best scores first; more are ignored. */
  maxDetections: number;
}

export const DEFAULT_SORT_OPTIONS: SortOptions = { maxAge: 30, minHits: 3, iouThreshold: 0.3, trailLength: 30, maxDetections: 1000 };

export interface DetectionInput {
  bbox: Box;
  score?: number;
  classId?: number;
  label?: string;
}

/** The detection a track was matched with in the current frame. */
export interface MatchedDetection {
  /** Position in the frame's detection list. */
  index: number;
  score: number | null;
  classId: number | null;
  label: string | null;
}

export class Track {
  age = 0;
  hits = 0;
  hitStreak = 0;
  timeSinceUpdate = 0;
  /** Set once the track has been reported; only reported tracks produce started and ended events. */
  reported = false;
  detection: MatchedDetection | null;
  readonly trail: [number, number][] = [];
  readonly firstSeenAt: number;
  lastSeenAt: number;
  readonly filter: BoxKalmanFilter;

  constructor(readonly id: number, input: DetectionInput, index: number, timestamp: number, private readonly trailLength: number) {
    this.filter = new BoxKalmanFilter(input.bbox);
    this.detection = matched(input, index);
    this.firstSeenAt = timestamp;
    this.lastSeenAt = timestamp;
    this.addTrailPoint();
  }

  /** The filter's estimate: after an update, its posterior; otherwise its prediction. */
  get bbox(): Box {
    return this.filter.box();
  }

  predict(): Box {
    this.filter.predict();
    this.age++;
    if (this.timeSinceUpdate > 0) this.hitStreak = 0;
    this.timeSinceUpdate++;
    this.detection = null;
    return this.filter.box();
  }

  update(input: DetectionInput, index: number, timestamp: number): void {
    this.timeSinceUpdate = 0;
    this.hits++;
    this.hitStreak++;
    this.filter.update(input.bbox);
    this.detection = matched(input, index);
    this.lastSeenAt = timestamp;
    this.addTrailPoint();
  }

  private addTrailPoint(): void {
    const [x1, , x2, y2] = this.filter.box();
    this.trail.push([(x1 + x2) / 2, y2]);
    if (this.trail.length > this.trailLength) this.trail.shift();
  }
}

function matched(input: DetectionInput, index: number): MatchedDetection {
  return { index, score: input.score ?? null, classId: input.classId ?? null, label: input.label ?? null };
}

export interface SortUpdate {
  /** Tracks matched this frame and confirmed (or within the first minHits frames), newest first. */
  tracks: Track[];
  /** Tracks reported for the first time this frame. */
  started: Track[];
  /** Reported tracks deleted this frame: unseen for more than maxAge frames, or with a degenerate prediction. */
  ended: Track[];
}

/** Fills in defaults and rejects values SORT cannot work with. */
export function resolveSortOptions(options: Partial<SortOptions>): SortOptions {
  const resolved = { ...DEFAULT_SORT_OPTIONS, ...options };
  const { maxAge, minHits, iouThreshold, trailLength, maxDetections } = resolved;
  const whole = (value: number, name: string, min: number) => {
    if (!(Number.isInteger(value) && value >= min)) throw new RangeError(`${name} must be a whole number >= ${min}, got ${value}`);
  };
  whole(maxAge, 'maxAge', 0);
  whole(minHits, 'minHits', 0);
  whole(trailLength, 'trailLength', 1);
  whole(maxDetections, 'maxDetections', 1);
  if (!(iouThreshold > 0 && iouThreshold <= 1)) throw new RangeError(`iouThreshold must be above 0 and at most 1, got ${iouThreshold}`);
  return resolved;
}

/** `a` is a detection, `b` a prediction; the expression order matters for exact IoU ties with the threshold. */
function iou(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const wh = w * h;
  return wh / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - wh);
}

function isUsableBox(box: unknown): box is Box {
  if (!Array.isArray(box) || box.length < 4) return false;
  const [x1, y1, x2, y2] = box as number[];
  return Number.isFinite(x1) && Number.isFinite(y1) && Number.isFinite(x2) && Number.isFinite(y2) && x2 > x1 && y2 > y1;
}

/**
 * SORT (Bewley et al., 2016): Kalman prediction, IoU association, track birth and death. One instance per
 * camera; ids count up from 1 per instance.
 */
export class SortTracker {
  readonly options: SortOptions;
  private tracks: Track[] = [];
  private frameCount = 0;
  private nextId = 1;

  constructor(options: Partial<SortOptions> = {}) {
    this.options = resolveSortOptions(options);
  }

  /** Live tracks, confirmed or not. */
  get activeTracks(): readonly Track[] {
    return this.tracks;
  }

  /** Forgets every track; ids continue, so they never repeat within this tracker. Returns the reported tracks that ended. */
  reset(): Track[] {
    const ended = this.tracks.filter((t) => t.reported);
    this.tracks = [];
    this.frameCount = 0;
    return ended;
  }

  /** Call once per frame, with an empty list when nothing was detected. */
  update(detections: readonly DetectionInput[], timestamp = 0): SortUpdate {
    this.frameCount++;
    const ended: Track[] = [];
    const inputs = this.usable(detections);

    const predictions: Box[] = [];
    const alive: Track[] = [];
    for (const track of this.tracks) {
      const box = track.predict();
      if (Number.isNaN(box[0]) || Number.isNaN(box[1]) || Number.isNaN(box[2]) || Number.isNaN(box[3])) {
        if (track.reported) ended.push(track);
        continue;
      }
      alive.push(track);
      predictions.push(box);
    }
    this.tracks = alive;

    const trackOfDetection = this.associate(inputs.map((i) => detections[i].bbox), predictions);
    for (let d = 0; d < inputs.length; d++) {
      const t = trackOfDetection[d];
      if (t >= 0) alive[t].update(detections[inputs[d]], inputs[d], timestamp);
    }
    for (let d = 0; d < inputs.length; d++) {
      if (trackOfDetection[d] < 0) {
        this.tracks.push(new Track(this.nextId++, detections[inputs[d]], inputs[d], timestamp, this.options.trailLength));
      }
    }

    const reported: Track[] = [];
    const started: Track[] = [];
    const { minHits, maxAge } = this.options;
    for (let i = this.tracks.length - 1; i >= 0; i--) {
      const track = this.tracks[i];
      if (track.timeSinceUpdate < 1 && (track.hitStreak >= minHits || this.frameCount <= minHits)) {
        reported.push(track);
        if (!track.reported) {
          track.reported = true;
          started.push(track);
        }
      }
    }
    if (this.tracks.some((t) => t.timeSinceUpdate > maxAge)) {
      const kept: Track[] = [];
      for (const track of this.tracks) {
        if (track.timeSinceUpdate <= maxAge) kept.push(track);
        else if (track.reported) ended.push(track);
      }
      this.tracks = kept;
    }
    return { tracks: reported, started, ended };
  }

  /** Indices of the detections to track: well-formed boxes only, at most maxDetections of them, best scores kept. */
  private usable(detections: readonly DetectionInput[]): number[] {
    const indices: number[] = [];
    for (let i = 0; i < detections.length; i++) if (isUsableBox(detections[i]?.bbox)) indices.push(i);
    if (indices.length <= this.options.maxDetections) return indices;
    const score = (i: number) => (Number.isFinite(detections[i].score) ? (detections[i].score as number) : -Infinity);
    return indices
      .sort((a, b) => score(b) - score(a) || a - b)
      .slice(0, this.options.maxDetections)
      .sort((a, b) => a - b);
  }

  /**
   * Matches detections to predicted boxes; returns the matched track index per detection, or -1.
   *
   * When no detection and no track has more than one candidate above the threshold, those pairs are taken as
   * they are. Otherwise the assignment maximising the total IoU is solved exactly, separately for each group
   * of detections and tracks connected by overlaps (pairs that do not overlap cannot be accepted). Pairs
   * below the threshold are rejected; a pair exactly at the threshold is kept.
   */
  private associate(boxes: Box[], predictions: Box[]): Int32Array {
    const trackOf = new Int32Array(boxes.length).fill(-1);
    if (boxes.length === 0 || predictions.length === 0) return trackOf;
    const threshold = this.options.iouThreshold;
    const edgeDetection: number[] = [];
    const edgeTrack: number[] = [];
    const edgeIou: number[] = [];
    const aboveByDetection = new Int32Array(boxes.length);
    const aboveByTrack = new Int32Array(predictions.length);
    let ambiguous = false;
    for (let d = 0; d < boxes.length; d++) {
      const a = boxes[d];
      for (let t = 0; t < predictions.length; t++) {
        const b = predictions[t];
        if (a[0] >= b[2] || b[0] >= a[2] || a[1] >= b[3] || b[1] >= a[3]) continue;
        const overlap = iou(a, b);
        if (!(overlap > 0)) continue;
        edgeDetection.push(d);
        edgeTrack.push(t);
        edgeIou.push(overlap);
        if (overlap > threshold && (++aboveByDetection[d] > 1 || ++aboveByTrack[t] > 1)) ambiguous = true;
      }
    }
    let anyAbove = false;
    for (let e = 0; e < edgeIou.length; e++) if (edgeIou[e] > threshold) anyAbove = true;
    if (anyAbove && !ambiguous) {
      for (let e = 0; e < edgeIou.length; e++) if (edgeIou[e] > threshold) trackOf[edgeDetection[e]] = edgeTrack[e];
      return trackOf;
    }
    for (const group of connectedGroups(boxes.length, predictions.length, edgeDetection, edgeTrack)) {
      assignGroup(group, edgeDetection, edgeTrack, edgeIou, threshold, predictions.length, trackOf);
    }
    return trackOf;
  }
}

interface Group {
  detections: number[];
  tracks: number[];
  edges: number[];
}

/** Splits the overlap graph into connected groups (union-find over detections 0..n-1 and tracks n..n+m-1). */
function connectedGroups(detections: number, tracks: number, edgeDetection: number[], edgeTrack: number[]): Group[] {
  const parent = Int32Array.from({ length: detections + tracks }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  for (let e = 0; e < edgeDetection.length; e++) {
    const a = find(edgeDetection[e]);
    const b = find(detections + edgeTrack[e]);
    if (a !== b) parent[a] = b;
  }
  const groups = new Map<number, Group>();
  for (let e = 0; e < edgeDetection.length; e++) {
    const root = find(edgeDetection[e]);
    let group = groups.get(root);
    if (!group) {
      group = { detections: [], tracks: [], edges: [] };
      groups.set(root, group);
    }
    group.edges.push(e);
  }
  for (let d = 0; d < detections; d++) groups.get(find(d))?.detections.push(d);
  for (let t = 0; t < tracks; t++) groups.get(find(detections + t))?.tracks.push(t);
  return [...groups.values()];
}

function assignGroup(
  group: Group,
  edgeDetection: number[],
  edgeTrack: number[],
  edgeIou: number[],
  threshold: number,
  trackCount: number,
  trackOf: Int32Array,
): void {
  const rows = group.detections.length;
  const columns = group.tracks.length;
  if (rows === 1 && columns === 1) {
    if (edgeIou[group.edges[0]] >= threshold) trackOf[group.detections[0]] = group.tracks[0];
    return;
  }
  const rowOf = new Map<number, number>(group.detections.map((d, i) => [d, i]));
  const columnOf = new Int32Array(trackCount);
  group.tracks.forEach((t, j) => (columnOf[t] = j));
  const cost = new Float64Array(rows * columns);
  const overlap = new Float64Array(rows * columns);
  for (const e of group.edges) {
    const cell = rowOf.get(edgeDetection[e])! * columns + columnOf[edgeTrack[e]];
    cost[cell] = -edgeIou[e];
    overlap[cell] = edgeIou[e];
  }
  const columnOfRow = solveAssignment(cost, rows, columns);
  for (let i = 0; i < rows; i++) {
    const j = columnOfRow[i];
    if (j >= 0 && overlap[i * columns + j] >= threshold) trackOf[group.detections[i]] = group.tracks[j];
  }
}

/** What messages carry for a track: plain JSON. */
export interface TrackInfo {
  id: number;
  bbox: Box;
  /** Centre velocity, pixels per frame. */
  velocity: [number, number];
  age: number;
  hits: number;
  hitStreak: number;
  timeSinceUpdate: number;
  detection: MatchedDetection | null;
  trail: [number, number][];
  firstSeenAt: number;
  lastSeenAt: number;
}

export function describeTrack(track: Track): TrackInfo {
  return {
    id: track.id,
    bbox: track.bbox,
    velocity: track.filter.velocity(),
    age: track.age,
    hits: track.hits,
    hitStreak: track.hitStreak,
    timeSinceUpdate: track.timeSinceUpdate,
    detection: track.detection && { ...track.detection },
    trail: track.trail.map(([x, y]) => [x, y]),
    firstSeenAt: track.firstSeenAt,
    lastSeenAt: track.lastSeenAt,
  };
}
