import type { Box } from '../types';

/** What every tracker takes per detection; only `bbox` is required. */
export interface DetectionInput {
  bbox: Box;
  score?: number;
  classId?: number;
  label?: string;
  /** A colour histogram of the person (detection/appearance.ts), for trackers that tell people apart by it. */
  appearance?: readonly number[] | null;
}

/** The detection a track was matched with in the current frame. */
export interface MatchedDetection {
  /** Position in the frame's detection list. */
  index: number;
  score: number | null;
  classId: number | null;
  label: string | null;
}

/** Settings every algorithm shares: what a track keeps for drawing and how many detections a frame may bring. */
export interface CommonTrackOptions {
  /** Bottom-centre points kept per track for drawing. */
  trailLength: number;
  /** Detections considered per frame, best scores first; more are ignored. */
  maxDetections: number;
}

export const DEFAULT_COMMON_OPTIONS: CommonTrackOptions = { trailLength: 30, maxDetections: 1000 };

/**
 * A person followed by a tracker, as the rest of the product sees it, whatever the algorithm: the box it
 * reports, the detection it was matched with, its trail and times. Each algorithm keeps its own state beside.
 */
export abstract class Track {
  /** Frames since birth. */
  age = 0;
  /** Detections matched after the one the track was born from (SORT's convention, which the reports use). */
  hits = 0;
  /** Consecutive frames with a match, up to this one, birth not counted. */
  hitStreak = 0;
  timeSinceUpdate = 0;
  /** Set once the track has been reported; only reported tracks produce started and ended events. */
  reported = false;
  detection: MatchedDetection | null;
  readonly trail: [number, number][] = [];
  firstSeenAt: number;
  /**
   * The box of the detection the track was born from (or an earlier sighting its tracker traced it back to): where
   * counting starts once the track is confirmed.
   */
  firstBox: Box;
  lastSeenAt: number;

  constructor(readonly id: number, input: DetectionInput, index: number, timestamp: number, private readonly trailLength: number) {
    this.detection = matched(input, index);
    this.firstSeenAt = timestamp;
    this.firstBox = [input.bbox[0], input.bbox[1], input.bbox[2], input.bbox[3]];
    this.lastSeenAt = timestamp;
  }

  /** The box the tracker reports for this track now. */
  abstract get bbox(): Box;

  /** Centre velocity in pixels per frame. */
  abstract velocity(): [number, number];

  /** The box as MOTChallenge rows print it, `[x, y, w, h]`: algorithms whose reference prints a width of its own override it. */
  topLeftSize(): [number, number, number, number] {
    const [x1, y1, x2, y2] = this.bbox;
    return [x1, y1, x2 - x1, y2 - y1];
  }

  /** Start of a frame: the track has not been seen yet in it. */
  protected aged(): void {
    this.age++;
    if (this.timeSinceUpdate > 0) this.hitStreak = 0;
    this.timeSinceUpdate++;
    this.detection = null;
  }

  /** Bookkeeping of a match, after the algorithm updated its own state (so the trail takes the new box). */
  protected seen(input: DetectionInput, index: number, timestamp: number): void {
    this.timeSinceUpdate = 0;
    this.hits++;
    this.hitStreak++;
    this.detection = matched(input, index);
    this.lastSeenAt = timestamp;
    this.addTrailPoint();
  }

  protected addTrailPoint(): void {
    const [x1, , x2, y2] = this.bbox;
    this.trail.push([(x1 + x2) / 2, y2]);
    if (this.trail.length > this.trailLength) this.trail.shift();
  }
}

/** What a track reports of its detection: plain JSON whatever the input held (a score, a class id, a short label, or null). */
function matched(input: DetectionInput, index: number): MatchedDetection {
  const { score, classId, label } = input;
  return {
    index,
    score: typeof score === 'number' && Number.isFinite(score) ? score : null,
    classId: typeof classId === 'number' && Number.isInteger(classId) ? classId : null,
    label: typeof label === 'string' ? label.slice(0, 100) : null,
  };
}

export interface TrackerUpdate {
  /** Tracks confirmed and matched in this frame, in the algorithm's order. */
  tracks: Track[];
  /** Tracks reported for the first time this frame. */
  started: Track[];
  /** Reported tracks that ended this frame. */
  ended: Track[];
}

/** One camera's tracker, whatever the algorithm. */
export interface Tracker {
  /** Live tracks, confirmed or not. */
  readonly activeTracks: readonly Track[];
  /** Call once per frame, with an empty list when nothing was detected; `timestamp` dates the tracks. */
  update(detections: readonly DetectionInput[], timestamp?: number): TrackerUpdate;
  /** Forgets every track; ids continue, so they never repeat within this tracker. Returns the reported tracks that ended. */
  reset(): Track[];
}

/** Marks the tracks reported for the first time; returns them. */
export function newlyReported(tracks: readonly Track[]): Track[] {
  const started: Track[] = [];
  for (const track of tracks) {
    if (!track.reported) {
      track.reported = true;
      started.push(track);
    }
  }
  return started;
}

function isUsableBox(box: unknown): box is Box {
  if (!Array.isArray(box) || box.length < 4) return false;
  const [x1, y1, x2, y2] = box as number[];
  return Number.isFinite(x1) && Number.isFinite(y1) && Number.isFinite(x2) && Number.isFinite(y2) && x2 > x1 && y2 > y1;
}

/** Indices of the detections to track: well-formed boxes only, at most `limit` of them, best scores kept, in input order. */
export function usableDetections(detections: readonly DetectionInput[], limit: number): number[] {
  const indices: number[] = [];
  for (let i = 0; i < detections.length; i++) if (isUsableBox(detections[i]?.bbox)) indices.push(i);
  if (indices.length <= limit) return indices;
  return indices
    .sort((a, b) => scoreOf(detections[b]) - scoreOf(detections[a]) || a - b)
    .slice(0, limit)
    .sort((a, b) => a - b);
}

/** The lowest score ByteTrack and OC-SORT look at (their second round). */
export const LOW_SCORE_FLOOR = 0.1;

/**
 * The usable detections split as ByteTrack and OC-SORT split them, by index into the frame's list: above
 * `threshold` (high), above LOW_SCORE_FLOOR and below `threshold` (low); a score equal to the threshold is in
 * neither. A detection without a usable score counts as certain (1); `scores` holds each index's score.
 */
export function splitByScore(detections: readonly DetectionInput[], limit: number, threshold: number): { high: number[]; low: number[]; scores: number[] } {
  const high: number[] = [];
  const low: number[] = [];
  const scores: number[] = [];
  for (const index of usableDetections(detections, limit)) {
    const score = Number.isFinite(detections[index].score) ? (detections[index].score as number) : 1;
    scores[index] = score;
    if (score > threshold) high.push(index);
    else if (score > LOW_SCORE_FLOOR && score < threshold) low.push(index);
  }
  return { high, low, scores };
}

/** A detection's score, or -Infinity when it has none usable. */
export function scoreOf(detection: DetectionInput): number {
  return Number.isFinite(detection.score) ? (detection.score as number) : -Infinity;
}

/** Checks the settings every algorithm shares. */
export function resolveCommonOptions(options: CommonTrackOptions): void {
  requireWhole(options.trailLength, 'trailLength', 1);
  requireWhole(options.maxDetections, 'maxDetections', 1);
}

/** Checks a whole-number setting. */
export function requireWhole(value: number, name: string, min: number): void {
  if (!(Number.isInteger(value) && value >= min)) throw new RangeError(`${name} must be a whole number >= ${min}, got ${value}`);
}

/** Checks a setting in (min, max] or [min, max]. */
export function requireInRange(value: number, name: string, min: number, max: number, minIncluded = false): void {
  if (!((minIncluded ? value >= min : value > min) && value <= max)) {
    throw new RangeError(`${name} must be ${minIncluded ? 'at least' : 'above'} ${min} and at most ${max}, got ${value}`);
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
  firstBox: Box;
  lastSeenAt: number;
}

export function describeTrack(track: Track): TrackInfo {
  return {
    id: track.id,
    bbox: track.bbox,
    velocity: track.velocity(),
    age: track.age,
    hits: track.hits,
    hitStreak: track.hitStreak,
    timeSinceUpdate: track.timeSinceUpdate,
    detection: track.detection && { ...track.detection },
    trail: track.trail.map(([x, y]) => [x, y]),
    firstSeenAt: track.firstSeenAt,
    firstBox: [...track.firstBox],
    lastSeenAt: track.lastSeenAt,
  };
}
