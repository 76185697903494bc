import type { Box } from '../types';
import { appearanceDistance, isAppearance } from '../detection/appearance';
import { matchWithCostLimit, type Matching } from './assignment';
import { iou, similarHeights } from './iou';
import {
  DEFAULT_COMMON_OPTIONS,
  newlyReported,
  requireInRange,
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
 * The product's tracker for cameras that detect only some of their frames. ByteTrack's rounds (high-score
 * detections first, then the low-score ones for the tracks left over, then the tracks born last update), with
 * three changes for the large steps between detections at 5 or 10 per second:
 *
 * - the Kalman filter runs in seconds, not frames: its prediction grows with the time between detections,
 *   whatever the detection rate and however it varies (motion gating, a shared model);
 * - a track born at the last update, which has no velocity yet, is confirmed by the nearest detection in the
 *   sense of the distance-IoU (IoU less the squared distance of the centres over the squared diagonal of the box
 *   enclosing both), which still ranks boxes that no longer overlap once the person has moved on; failing a
 *   high-score one, a low-score detection left over confirms it too, as the second round keeps a followed person:
 *   detected a fifth of a second apart, someone seen clearly once is often partly hidden the next time, and
 *   ByteTrack, which asks for two high-score sightings in a row, would never start them;
 * - where a track could take more than one detection, or a detection more than one track (people crossing,
 *   boxes merging), a pair whose colours differ (detection/appearance.ts) is ruled out, so identities do not
 *   swap; a lone pair is never ruled out by colour, since one person's colours change with light and occlusion;
 * - a new track starts where the person was first seen, not where they were first seen clearly: the detections of
 *   the last updates that no track took are kept (for as long as a lost track is), and a newborn track is traced
 *   back through them, update by update, to the nearest in the sense of the distance-IoU with the low-score
 *   rounds' limit and of a similar height (as zone-analytics continues a lost person), and its first box set
 *   there. Someone first seen half hidden, at a low score, just before a line is first seen clearly just after it;
 *   counting from the clear sighting would miss their crossing.
 *
 * A lost track is kept for a time in seconds.
 */
export interface HybridOptions extends CommonTrackOptions {
  /** Detections scoring above this are matched first and may start tracks (at `trackThresh + 0.1` or more). */
  trackThresh: number;
  /** Largest first-round cost, 1 − IoU × score. */
  matchThresh: number;
  /** Seconds a lost track is kept to be found again. */
  lostSeconds: number;
  /**
   * Bhattacharyya distance of colour histograms above which an ambiguous pair is ruled out (0.5: the colours
   * overlap less than 75 %); 1 turns the cue off. Detections without a histogram are matched on motion alone.
   */
  appearanceVeto: number;
  /** Seconds between two updates when the input carries no usable time (timestamps that do not increase). */
  fallbackInterval: number;
}

export const DEFAULT_HYBRID_OPTIONS: HybridOptions = { trackThresh: 0.6, matchThresh: 0.9, lostSeconds: 1, appearanceVeto: 0.5, fallbackInterval: 1 / 30, ...DEFAULT_COMMON_OPTIONS };

export function resolveHybridOptions(options: Partial<HybridOptions>): HybridOptions {
  const resolved = { ...DEFAULT_HYBRID_OPTIONS, ...options };
  requireInRange(resolved.trackThresh, 'trackThresh', LOW_SCORE_FLOOR, 1);
  requireInRange(resolved.matchThresh, 'matchThresh', 0, 1);
  requireInRange(resolved.lostSeconds, 'lostSeconds', 0, 3600, true);
  requireInRange(resolved.appearanceVeto, 'appearanceVeto', 0, 1);
  requireInRange(resolved.fallbackInterval, 'fallbackInterval', 0, 60);
  resolveCommonOptions(resolved);
  return resolved;
}

/** Largest cost of a match with a low-score detection (no score fusion): the second round's, and a newcomer's confirmation. */
const SECOND_ROUND_LIMIT = 0.5;
/** Largest fused cost of a match between a track born last frame and a remaining high-score detection. */
const UNCONFIRMED_LIMIT = 0.7;
/** Tracked and lost tracks whose boxes have a distance-IoU above this are duplicates: the younger one goes. */
const DUPLICATE_DIOU = 0.85;
/** Weight of the appearance so far against a new detection's. */
const APPEARANCE_MEMORY = 0.9;

/** The boxes of one update's detections that no track took, kept to trace newborn tracks back. */
interface Unclaimed {
  at: number;
  timestamp: number;
  boxes: Box[];
}

/**
 * ByteTrack's noise model, which is stated per frame of a 30 frames/s video (position 1/20 of the box height,
 * velocity 1/160 of it per frame), turned into rates per second: a random walk's variance grows with time, so a
 * step of `dt` seconds adds `30 dt` frames' worth of it, and a velocity of v pixels per frame is 30 v per second.
 */
const REFERENCE_RATE = 30;
const WEIGHT_POSITION = 1 / 20;
const WEIGHT_VELOCITY = (1 / 160) * REFERENCE_RATE;
const ASPECT_POSITION = 1e-2;
const ASPECT_VELOCITY = 1e-5 * REFERENCE_RATE;
const ASPECT_MEASUREMENT = 1e-1;

/**
 * Constant-velocity filter on [cx, cy, a = w/h, h], velocities per second. Each coordinate is coupled only with
 * its velocity, so the covariance is four 2x2 blocks [[a, b], [b, d]].
 */
class TimedFilter {
  readonly mean = new Float64Array(8);
  private readonly a = new Float64Array(4);
  private readonly b = new Float64Array(4);
  private readonly d = new Float64Array(4);

  constructor(z: readonly number[]) {
    const h = z[3];
    const position = [2 * WEIGHT_POSITION * h, 2 * WEIGHT_POSITION * h, 1e-2, 2 * WEIGHT_POSITION * h];
    const velocity = [10 * WEIGHT_VELOCITY * h, 10 * WEIGHT_VELOCITY * h, 1e-5 * REFERENCE_RATE, 10 * WEIGHT_VELOCITY * h];
    for (let p = 0; p < 4; p++) {
      this.mean[p] = z[p];
      this.a[p] = position[p] ** 2;
      this.d[p] = velocity[p] ** 2;
    }
  }

  predict(dt: number): void {
    const h = this.mean[3];
    const frames = dt * REFERENCE_RATE;
    const { mean, a, b, d } = this;
    for (let p = 0; p < 4; p++) {
      const qPosition = p === 2 ? ASPECT_POSITION : WEIGHT_POSITION * h;
      const qVelocity = p === 2 ? ASPECT_VELOCITY : WEIGHT_VELOCITY * h;
      mean[p] += mean[p + 4] * dt;
      a[p] += 2 * dt * b[p] + dt * dt * d[p] + frames * qPosition * qPosition;
      b[p] += dt * d[p];
      d[p] += frames * qVelocity * qVelocity;
    }
  }

  private measurementNoise(p: number): number {
    return p === 2 ? ASPECT_MEASUREMENT ** 2 : (WEIGHT_POSITION * this.mean[3]) ** 2;
  }

  update(z: readonly number[]): void {
    const { mean, a, b, d } = this;
    for (let p = 0; p < 4; p++) {
      const s = a[p] + this.measurementNoise(p);
      const kp = a[p] / s;
      const kv = b[p] / s;
      const y = z[p] - mean[p];
      mean[p] += kp * y;
      mean[p + 4] += kv * y;
      const [A, B, D] = [a[p], b[p], d[p]];
      a[p] = A - kp * A;
      b[p] = B - kp * B;
      d[p] = D - kv * B;
    }
  }
}

function measurement(box: Box): number[] {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  return [box[0] + w / 2, box[1] + h / 2, w / h, h];
}

/** Distance-IoU (Zheng et al., 2020): the IoU less the squared centre distance over the squared diagonal of the smallest box enclosing both. */
export function distanceIou(a: Box, b: Box): number {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const intersection = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - intersection;
  const centres = ((a[0] + a[2] - b[0] - b[2]) / 2) ** 2 + ((a[1] + a[3] - b[1] - b[3]) / 2) ** 2;
  const diagonal = (Math.max(a[2], b[2]) - Math.min(a[0], b[0])) ** 2 + (Math.max(a[3], b[3]) - Math.min(a[1], b[1])) ** 2;
  return intersection / union - (diagonal > 0 ? centres / diagonal : 0);
}

const enum State {
  Tracked,
  Lost,
  Removed,
}

interface Candidate {
  input: DetectionInput;
  /** The detection's colour histogram, when it brings a well-formed one. */
  colours: readonly number[] | null;
  index: number;
  score: number;
  box: Box;
  z: number[];
}

class HybridTrack extends Track {
  readonly filter: TimedFilter;
  state = State.Tracked;
  /** Confirmed: matched again after its birth, or born in the first update. */
  activated: boolean;
  /** Time of the last match and of the birth, in ms of the tracker's clock. */
  lastMatchAt: number;
  readonly bornAt: number;
  /** The colour histogram of the person, averaged over their detections (most weight on the older ones). */
  appearance: number[] | null;
  /** Seconds covered by the last prediction, to give the velocity per frame. */
  private step = 1 / REFERENCE_RATE;

  constructor(id: number, candidate: Candidate, now: number, first: boolean, timestamp: number, trailLength: number) {
    super(id, candidate.input, candidate.index, timestamp, trailLength);
    this.filter = new TimedFilter(candidate.z);
    this.activated = first;
    this.lastMatchAt = now;
    this.bornAt = now;
    this.appearance = candidate.colours ? [...candidate.colours] : null;
    this.addTrailPoint();
  }

  get bbox(): Box {
    const { mean } = this.filter;
    const w = mean[2] * mean[3];
    const h = mean[3];
    return [mean[0] - w / 2, mean[1] - h / 2, mean[0] + w / 2, mean[1] + h / 2];
  }

  velocity(): [number, number] {
    return [this.filter.mean[4] * this.step, this.filter.mean[5] * this.step];
  }

  predict(dt: number): void {
    this.aged();
    // A person out of sight keeps walking, but their box's growth is not extrapolated (as ByteTrack).
    if (this.state !== State.Tracked) this.filter.mean[7] = 0;
    this.filter.predict(dt);
    this.step = dt;
  }

  match(candidate: Candidate, now: number, timestamp: number): void {
    this.filter.update(candidate.z);
    this.state = State.Tracked;
    this.activated = true;
    this.lastMatchAt = now;
    const seen = candidate.colours;
    if (seen && this.appearance) this.appearance = this.appearance.map((v, i) => APPEARANCE_MEMORY * v + (1 - APPEARANCE_MEMORY) * seen[i]);
    else if (seen) this.appearance = [...seen];
    this.seen(candidate.input, candidate.index, timestamp);
  }
}

/** How a round measures a pair: the plain IoU, or the distance-IoU mapped to 0..1; and whether the score weighs in. */
interface Similarity {
  distance: boolean;
  fuseScore: boolean;
}

/**
 * Pair costs, rows tracks, columns candidates: 1 − similarity (× the detection's score when fused); a pair whose
 * colours differ by more than `veto` is set above `limit` where either side has another pair under it.
 */
function costs(tracks: readonly HybridTrack[], candidates: readonly Candidate[], { distance, fuseScore }: Similarity, limit: number, veto: number): Float64Array {
  const n = candidates.length;
  const cost = new Float64Array(tracks.length * n);
  const trackOptions = new Int32Array(tracks.length);
  const candidateOptions = new Int32Array(n);
  tracks.forEach((track, i) => {
    const box = track.bbox;
    candidates.forEach((candidate, j) => {
      const similarity = distance ? (1 + distanceIou(box, candidate.box)) / 2 : iou(box, candidate.box);
      const value = 1 - similarity * (fuseScore ? candidate.score : 1);
      cost[i * n + j] = value;
      if (value < limit) {
        trackOptions[i]++;
        candidateOptions[j]++;
      }
    });
  });
  if (veto >= 1) return cost;
  tracks.forEach((track, i) => {
    const seen = track.appearance;
    if (!seen) return;
    candidates.forEach((candidate, j) => {
      const k = i * n + j;
      const { colours } = candidate;
      if (!(cost[k] < limit) || !colours || (trackOptions[i] < 2 && candidateOptions[j] < 2)) return;
      if (appearanceDistance(seen, colours) > veto) cost[k] = 2 * limit;
    });
  });
  return cost;
}

/** Rows are tracks, columns candidates. */
function match(tracks: readonly HybridTrack[], candidates: readonly Candidate[], similarity: Similarity, limit: number, veto: number): Matching {
  return matchWithCostLimit(costs(tracks, candidates, similarity, limit, veto), tracks.length, candidates.length, limit);
}

export class HybridTracker implements Tracker {
  readonly options: HybridOptions;
  private tracked: HybridTrack[] = [];
  private lost: HybridTrack[] = [];
  private nextId = 1;
  private updates = 0;
  /** The latest updates' unclaimed detections, newest first. */
  private unclaimed: Unclaimed[] = [];
  /**
   * The tracker's clock in ms: moved on by the input's time when that moves forward, by the fallback interval
   * otherwise (so time never stands still or runs back, whatever the timestamps).
   */
  private clock = 0;
  private lastTimestamp: number | null = null;

  constructor(options: Partial<HybridOptions> = {}) {
    this.options = resolveHybridOptions(options);
  }

  get activeTracks(): readonly Track[] {
    return [...this.tracked, ...this.lost];
  }

  reset(): Track[] {
    const ended = this.activeTracks.filter((t) => t.reported);
    this.tracked = [];
    this.lost = [];
    this.unclaimed = [];
    this.updates = 0;
    this.lastTimestamp = null;
    return ended;
  }

  /** Ms since the previous update. */
  private advance(timestamp: number): number {
    const usable = Number.isFinite(timestamp) && this.lastTimestamp !== null && timestamp > this.lastTimestamp;
    const step = usable ? timestamp - this.lastTimestamp! : this.options.fallbackInterval * 1000;
    if (Number.isFinite(timestamp) && (this.lastTimestamp === null || timestamp > this.lastTimestamp)) this.lastTimestamp = timestamp;
    this.clock += step;
    return step;
  }

  update(detections: readonly DetectionInput[], timestamp = 0): TrackerUpdate {
    const first = ++this.updates === 1;
    const dt = first ? 0 : this.advance(timestamp) / 1000;
    if (first) this.lastTimestamp = Number.isFinite(timestamp) ? timestamp : null;
    const now = this.clock;
    const { trackThresh, matchThresh, lostSeconds, appearanceVeto, trailLength } = this.options;
    const split = splitByScore(detections, this.options.maxDetections, trackThresh);
    const candidate = (index: number): Candidate => {
      const box = detections[index].bbox;
      const { appearance } = detections[index];
      return { input: detections[index], index, score: split.scores[index], box, z: measurement(box), colours: isAppearance(appearance) ? appearance : null };
    };
    const high = split.high.map(candidate);
    const low = split.low.map(candidate);

    const before = [...this.tracked, ...this.lost];
    for (const track of before) track.predict(dt);
    const unconfirmed = this.tracked.filter((t) => !t.activated);
    const pool = [...this.tracked.filter((t) => t.activated), ...this.lost];

    const firstRound = match(pool, high, { distance: false, fuseScore: true }, matchThresh, appearanceVeto);
    for (const [i, j] of firstRound.pairs) pool[i].match(high[j], now, timestamp);

    const leftover = firstRound.unmatchedRows.map((i) => pool[i]).filter((t) => t.state === State.Tracked);
    const secondRound = match(leftover, low, { distance: false, fuseScore: false }, SECOND_ROUND_LIMIT, appearanceVeto);
    for (const [i, j] of secondRound.pairs) leftover[i].match(low[j], now, timestamp);
    for (const i of secondRound.unmatchedRows) leftover[i].state = State.Lost;

    const remaining = firstRound.unmatchedColumns.map((j) => high[j]);
    const thirdRound = match(unconfirmed, remaining, { distance: true, fuseScore: true }, UNCONFIRMED_LIMIT, appearanceVeto);
    for (const [i, j] of thirdRound.pairs) unconfirmed[i].match(remaining[j], now, timestamp);
    const unseen = thirdRound.unmatchedRows.map((i) => unconfirmed[i]);
    const lowLeft = secondRound.unmatchedColumns.map((j) => low[j]);
    const fourthRound = match(unseen, lowLeft, { distance: true, fuseScore: false }, SECOND_ROUND_LIMIT, appearanceVeto);
    for (const [i, j] of fourthRound.pairs) unseen[i].match(lowLeft[j], now, timestamp);
    for (const i of fourthRound.unmatchedRows) unseen[i].state = State.Removed;
    const born: HybridTrack[] = [];
    const unborn: Candidate[] = [];
    for (const j of thirdRound.unmatchedColumns) {
      if (remaining[j].score < trackThresh + 0.1) unborn.push(remaining[j]);
      else born.push(new HybridTrack(this.nextId++, remaining[j], now, first, timestamp, trailLength));
    }
    this.unclaimed = this.unclaimed.filter((u) => now - u.at <= lostSeconds * 1000);
    for (const track of born) this.traceBack(track);
    const unclaimedNow = [...unborn, ...fourthRound.unmatchedColumns.map((j) => lowLeft[j])];
    this.unclaimed.unshift({ at: now, timestamp, boxes: unclaimedNow.map((c) => c.box) });

    for (const track of before) {
      if (track.state === State.Lost && now - track.lastMatchAt > lostSeconds * 1000) track.state = State.Removed;
    }
    const live = [...before.filter((t) => t.state !== State.Removed), ...born];
    [this.tracked, this.lost] = removeDuplicates(
      live.filter((t) => t.state === State.Tracked),
      live.filter((t) => t.state === State.Lost),
    );

    const reported = this.tracked.filter((t) => t.activated && t.timeSinceUpdate === 0);
    const started = newlyReported(reported);
    const alive = new Set([...this.tracked, ...this.lost]);
    const ended = before.filter((t) => !alive.has(t) && t.reported);
    return { tracks: reported, started, ended };
  }

  /** Moves a newborn track's first sighting back through the unclaimed detections of the updates before (each used once). */
  private traceBack(track: HybridTrack): void {
    let box = track.firstBox;
    for (const update of this.unclaimed) {
      let nearest = -1;
      let best = 1 - 2 * SECOND_ROUND_LIMIT;
      update.boxes.forEach((candidate, k) => {
        const similarity = distanceIou(box, candidate);
        if (similarity > best && similarHeights(candidate[3] - candidate[1], box[3] - box[1])) [nearest, best] = [k, similarity];
      });
      if (nearest < 0) return;
      [box] = update.boxes.splice(nearest, 1);
      track.firstBox = [...box];
      track.firstSeenAt = update.timestamp;
    }
  }
}

/** Of a tracked and a lost track on nearly the same box, keeps the one followed longer; on a tie, the lost one. */
function removeDuplicates(tracked: HybridTrack[], lost: HybridTrack[]): [HybridTrack[], HybridTrack[]] {
  if (tracked.length === 0 || lost.length === 0) return [tracked, lost];
  const dropTracked = new Set<HybridTrack>();
  const dropLost = new Set<HybridTrack>();
  for (const p of tracked) {
    for (const q of lost) {
      if (!(distanceIou(p.bbox, q.bbox) > DUPLICATE_DIOU)) continue;
      if (p.lastMatchAt - p.bornAt > q.lastMatchAt - q.bornAt) dropLost.add(q);
      else dropTracked.add(p);
    }
  }
  return [tracked.filter((t) => !dropTracked.has(t)), lost.filter((t) => !dropLost.has(t))];
}

