import type { Box } from '../types';
import { DisjointSets, solveAssignment } from './assignment';
import { iou } from './iou';
import { BoxKalmanFilter } from './kalman';
import {
  DEFAULT_COMMON_OPTIONS,
  newlyReported,
  requireInRange,
  requireWhole,
  resolveCommonOptions,
  Track,
  usableDetections,
  type CommonTrackOptions,
  type DetectionInput,
  type Tracker,
  type TrackerUpdate,
} from './track';

export interface SortOptions extends CommonTrackOptions {
  /** Frames a track survives without a matching detection. */
  maxAge: number;
  /** Consecutive matches before a track is reported (every track is reported during the first minHits frames). */
  minHits: number;
  /** Minimum IoU between a detection and a track's prediction for them to be matched; must be above 0. */
  iouThreshold: number;
}

export const DEFAULT_SORT_OPTIONS: SortOptions = { maxAge: 30, minHits: 3, iouThreshold: 0.3, ...DEFAULT_COMMON_OPTIONS };

class SortTrack extends Track {
  readonly filter: BoxKalmanFilter;

  constructor(id: number, input: DetectionInput, index: number, timestamp: number, trailLength: number) {
    super(id, input, index, timestamp, trailLength);
    this.filter = new BoxKalmanFilter(input.bbox);
    this.addTrailPoint();
  }

  /** The filter's estimate: after an update, its posterior; otherwise its prediction. */
  get bbox(): Box {
    return this.filter.box();
  }

  velocity(): [number, number] {
    return this.filter.velocity();
  }

  predict(): Box {
    this.filter.predict();
    this.aged();
    return this.filter.box();
  }

  update(input: DetectionInput, index: number, timestamp: number): void {
    this.filter.update(input.bbox);
    this.seen(input, index, timestamp);
  }
}

/** Fills in defaults and rejects values SORT cannot work with. */
export function resolveSortOptions(options: Partial<SortOptions>): SortOptions {
  const resolved = { ...DEFAULT_SORT_OPTIONS, ...options };
  requireWhole(resolved.maxAge, 'maxAge', 0);
  requireWhole(resolved.minHits, 'minHits', 0);
  requireInRange(resolved.iouThreshold, 'iouThreshold', 0, 1);
  resolveCommonOptions(resolved);
  return resolved;
}

/** A track of SORT's family: predicted once at the start of every frame. */
export interface PredictedTrack extends Track {
  /** Advances the filter a frame; returns the predicted box (NaN when the filter degenerated). */
  predict(): Box;
}

/**
 * The frame SORT and OC-SORT share around their own matching: predict every track (dropping degenerate ones),
 * match and start tracks (`matchAndStart`), then walk the tracks newest first, reporting those matched in this
 * frame with minHits consecutive matches (all during the first minHits frames) and deleting those unseen for
 * more than maxAge frames. One instance per camera; ids count up from 1 per instance.
 */
export abstract class SortFamilyTracker<T extends PredictedTrack> implements Tracker {
  protected tracks: T[] = [];
  protected frameCount = 0;
  protected nextId = 1;

  constructor(private readonly lifetime: { maxAge: number; minHits: number }) {}

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
  update(detections: readonly DetectionInput[], timestamp = 0): TrackerUpdate {
    this.frameCount++;
    const ended: Track[] = [];
    const predictions: Box[] = [];
    const alive: T[] = [];
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
    this.matchAndStart(detections, predictions, timestamp);

    const reported: Track[] = [];
    const { minHits, maxAge } = this.lifetime;
    for (let i = this.tracks.length - 1; i >= 0; i--) {
      const track = this.tracks[i];
      if (track.timeSinceUpdate < 1 && (track.hitStreak >= minHits || this.frameCount <= minHits)) reported.push(track);
    }
    const started = newlyReported(reported);
    if (this.tracks.some((t) => t.timeSinceUpdate > maxAge)) {
      const kept: T[] = [];
      for (const track of this.tracks) {
        if (track.timeSinceUpdate <= maxAge) kept.push(track);
        else if (track.reported) ended.push(track);
      }
      this.tracks = kept;
    }
    return { tracks: reported, started, ended };
  }

  /** Updates the tracks (`predictions[i]` is `this.tracks[i]`'s) with their detections and appends new tracks. */
  protected abstract matchAndStart(detections: readonly DetectionInput[], predictions: readonly Box[], timestamp: number): void;
}

/** SORT (Bewley et al., 2016): Kalman prediction, IoU association, track birth and death. */
export class SortTracker extends SortFamilyTracker<SortTrack> {
  readonly options: SortOptions;

  constructor(options: Partial<SortOptions> = {}) {
    const resolved = resolveSortOptions(options);
    super(resolved);
    this.options = resolved;
  }

  protected matchAndStart(detections: readonly DetectionInput[], predictions: readonly Box[], timestamp: number): void {
    const inputs = usableDetections(detections, this.options.maxDetections);
    const tracks = this.tracks;
    const trackOfDetection = this.associate(inputs.map((i) => detections[i].bbox), predictions);
    for (let d = 0; d < inputs.length; d++) {
      const t = trackOfDetection[d];
      if (t >= 0) tracks[t].update(detections[inputs[d]], inputs[d], timestamp);
    }
    for (let d = 0; d < inputs.length; d++) {
      if (trackOfDetection[d] < 0) {
        this.tracks.push(new SortTrack(this.nextId++, detections[inputs[d]], inputs[d], timestamp, this.options.trailLength));
      }
    }
  }

  /**
   * Matches detections to predicted boxes; returns the matched track index per detection, or -1.
   *
   * When no detection and no track has more than one candidate above the threshold, those pairs are taken as
   * they are. Otherwise the assignment maximising the total IoU is solved exactly, separately for each group
   * of detections and tracks connected by overlaps (pairs that do not overlap cannot be accepted). Pairs
   * below the threshold are rejected; a pair exactly at the threshold is kept.
   */
  private associate(boxes: Box[], predictions: readonly Box[]): Int32Array {
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

/** Splits the overlap graph into connected groups (detections 0..n-1 and tracks n..n+m-1). */
function connectedGroups(detections: number, tracks: number, edgeDetection: number[], edgeTrack: number[]): Group[] {
  const sets = new DisjointSets(detections + tracks);
  for (let e = 0; e < edgeDetection.length; e++) sets.join(edgeDetection[e], detections + edgeTrack[e]);
  const find = (x: number) => sets.find(x);
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
