import { similarHeights } from '../tracking/iou';
import type { Box } from '../types';
import { alertRule, ZoneAlert, type AlertChange, type AlertConfig, type AlertState } from './alerts';
import { crossingAlong, distanceToSegment, insidePolygon, lastCrossingAlong, segmentsIntersect, sideOfLine, type Point } from './geometry';

export interface ZoneConfig {
  id: string;
  name?: string;
  /** Pixels of the camera frame, or normalised 0..1 when every coordinate is within 0..1. */
  polygon: Point[];
  /** Consecutive observations on the new side before a track's state changes (default 1). */
  minFrames?: number;
  /** Also report queue length and estimated waiting time. */
  queue?: boolean;
  /** Entries here count as footfall (see footfallEvents). */
  footfall?: boolean;
  /** Raise an alert when the people inside (or the estimated wait of a queue zone) reach a threshold. */
  alert?: AlertConfig;
  /** A staff zone (behind the counter): whoever spends more than `seconds` (default 20) in it during a visit is staff. */
  exclusion?: { seconds?: number };
}

export interface LineConfig {
  id: string;
  name?: string;
  from: Point;
  to: Point;
  minFrames?: number;
  /** Crossings `in` count as footfall (see footfallEvents). */
  footfall?: boolean;
  /** A staff-only door: whoever crosses it, either way, is staff. */
  staffOnly?: boolean;
}

export interface ZoneLayout {
  zones?: ZoneConfig[];
  lines?: LineConfig[];
}

export type Anchor = 'bottom-center' | 'center';

export interface ZoneOptions {
  /** Which point of a track's box is its position: the feet (default) or the centre. */
  anchor: Anchor;
  /**
   * Seconds a track may be absent before it counts as ended at the last time it was seen. Time, not frames, so
   * the same setting holds at any capture or detection rate.
   */
  trackTimeoutSeconds: number;
  /**
   * A new track id within this many seconds of a lost one, where the lost one was heading, continues that
   * person (its zones, sides of lines and dwell): a broken track is not a new visitor. 0 turns it off.
   */
  relinkSeconds: number;
  /** How far from where the lost track was expected a new one may appear, in heights of the person's box. */
  relinkDistance: number;
  /** Window of recent exits used for a queue's throughput. */
  queueWindowSeconds: number;
}

export const DEFAULT_ZONE_OPTIONS: ZoneOptions = { anchor: 'bottom-center', trackTimeoutSeconds: 2, relinkSeconds: 2, relinkDistance: 0.5, queueWindowSeconds: 300 };

/** Longest track timeout or re-link time accepted: an hour. */
const MAX_TIMEOUT_SECONDS = 3600;

/** People followed at once per camera, seen or recently lost; beyond, the longest unseen are ended. */
const MAX_TRACK_STATES = 10_000;

/** Lost people, and new tracks, considered per frame for continuing one with the other. */
const MAX_RELINK_CANDIDATES = 500;

/** Positions kept per person to estimate where a lost one is heading. */
const MOTION_HISTORY = 5;

/** Updates remembered (time → frame) to place where a new track was first seen. */
const FRAMES_REMEMBERED = 16;
/**
 * "Near" a line or zone edge, in the person's box heights: people walk about their own height a second (1.4 m/s,
 * 1.7 m tall), so this is about a second before they reach it.
 */
const NEAR_BOUNDARY_HEIGHTS = 1;

export interface TrackObservation {
  id: number;
  bbox: Box;
  label?: string | null;
  /**
   * Where and when the tracker first saw the person, before it confirmed the track: when that was one of the
   * last updates, counting starts there, so a crossing made while the track was being confirmed (a fifth of a
   * second at 5 detections per second) is not lost.
   */
  firstSeen?: { bbox: Box; at: number };
}

/**
 * Why a visit ended: the person walked out (`left`), their track was lost (`lost`), the store closed (`closing`, with
 * a store calendar), or the node stopped counting while they were inside: closed by a redeploy or a stop of
 * Node-RED (`redeploy`), or gone with the process without a close (`restart`: a crash, SIGKILL, power loss), each
 * ended when counting starts again.
 */
export type ExitReason = 'left' | 'lost' | 'closing' | 'redeploy' | 'restart' | 'layout';

export type ZoneEvent =
  | { type: 'enter'; zoneId: string; trackId: number; at: number; visitId: string; label: string | null; staff?: true }
  | {
      type: 'exit';
      zoneId: string;
      trackId: number;
      /** The last time the person was seen inside (or, for `left`, first seen outside): dwell counts only what was seen. */
      at: number;
      enteredAt: number;
      dwellSeconds: number;
      reason: ExitReason;
      /** Any reason but `left`. */
      trackEnded: boolean;
      visitId: string;
      label: string | null;
      /** The person is staff: the visit is left out of the dwell and the queue. */
      staff?: true;
    }
  | { type: 'cross'; lineId: string; trackId: number; at: number; direction: 'in' | 'out'; label: string | null; staff?: true }
  | ({ type: 'alert'; zoneId: string } & AlertChange)
  | {
      /** A person recognised as staff for the rest of their visit, and why. */
      type: 'staff';
      trackId: number;
      at: number;
      reason: string;
      zoneId?: string;
      lineId?: string;
      /** When this person was counted as footfall before: those counts are taken back. */
      footfallAt: number[];
      label: string | null;
    };

export interface ZoneStats {
  id: string;
  name: string;
  currentCount: number;
  totalEntries: number;
  totalExits: number;
  /** Mean dwell of completed visits; null before the first exit. */
  avgDwellSeconds: number | null;
  peakCount: number;
  /** When the peak was first reached (ms since the epoch, or the input's clock); null before anyone entered. */
  peakAt: number | null;
  /** Per class label, when more than one class has been seen in the zone. */
  byClass?: Record<string, { currentCount: number; totalEntries: number }>;
  /** Queue zones: people waiting and Little's law estimate of the wait, W = L / λ, λ = exits per second over the window. */
  queue?: { length: number; throughputPerMinute: number; estimatedWaitSeconds: number | null };
  /** For a zone with an alert: whether it is raised now. */
  alert?: AlertState;
  /** With staff zones or staff-only lines in the layout: staff inside now and staff entries, counted in the totals too. */
  staff?: { inside: number; entries: number };
}

export interface ZoneGeometry {
  zones: { id: string; name: string; polygon: Point[] }[];
  lines: { id: string; name: string; from: Point; to: Point }[];
}

/** A visit under way when the counters were saved: ended with `endReason` when counting starts again. */
export interface OpenVisit {
  trackId: number;
  visitId: string;
  enteredAt: number;
  lastSeenAt: number;
  label: string | null;
  enteredAs: string;
  endReason: ExitReason;
  staff?: boolean;
}

/** Zone and line counters that outlive tracks, for persistence. */
export interface ZoneTotals {
  entries: number;
  exits: number;
  dwellSum: number;
  peak: number;
  peakAt: number | null;
  classEntries: Record<string, number>;
  staffEntries?: number;
  staffExits?: number;
  /** Visits under way: entries − exits of the saved counters. */
  open?: OpenVisit[];
}

export interface LineTotals {
  in: number;
  out: number;
}

export interface LineStats {
  id: string;
  name: string;
  in: number;
  out: number;
}

/**
 * A side or an inside/outside state that changes only when the person has been on the new side, with no
 * observation between on the old one, for `minFrames` frames of the camera, counted from where their path
 * crossed the boundary.
 */
interface Debounced<T> {
  state: T;
  candidate: T;
  /** Observations in the current run; 0 when there is none. */
  run: number;
  /**
   * The camera frame (fractional) at which the current run began: where the path from the last observation on
   * the old side to the first on the new one crosses the boundary, moving evenly between the two.
   */
  runStartFrame: number;
  /** The time the run began (as its frame), and the position of its first observation. */
  runStartedAt: number;
  runStart: Point;
}

/** The observation of a person before the current one: where a run that starts now began is on the way from it. */
interface Observation {
  frame: number;
  at: number;
  position: Point;
}

interface ZoneMembership extends Debounced<boolean> {
  enteredAt: number;
  /**
   * Names the visit its enter and exit events share: zone, the track id at entry and the entry time. A track
   * that breaks and continues under a new id keeps its visit.
   */
  visitId: string;
  /** Class counted at entry, so the exit decrements the same one. */
  enteredAs: string;
}

interface LineSide extends Debounced<number> {
  /** Last position observed on the confirmed side. */
  lastOnSide: Point;
}

interface TrackState {
  lastSeenAt: number;
  /** The latest observation, the start of the path to the next one. */
  last: Observation | null;
  /** The last few positions with their times, oldest first, and the height of the last box. */
  recent: { time: number; at: Point }[];
  height: number;
  label: string | null;
  zones: ZoneMembership[];
  lines: (LineSide | null)[];
  /** Recognised as staff (a staff zone or a staff-only line): for the rest of the track. */
  staff: boolean;
  /** When this person counted as footfall, while not known as staff. */
  footfallAt: number[];
  /** Seconds spent in each zone in visits that ended (staff zones are read). */
  secondsIn: number[];
}

interface ZoneCounter {
  config: ZoneConfig;
  normalised: boolean;
  current: number;
  entries: number;
  exits: number;
  dwellSum: number;
  peak: number;
  peakAt: number | null;
  classes: Map<string, { current: number; entries: number }>;
  recentExits: number[];
  alert: ZoneAlert | null;
  staffInside: number;
  staffEntries: number;
  staffExits: number;
}

interface LineCounter {
  config: LineConfig;
  normalised: boolean;
  in: number;
  out: number;
}

const MAX_RECENT_EXITS = 10000;

function isPoint(value: unknown): value is Point {
  return Array.isArray(value) && value.length === 2 && Number.isFinite(value[0]) && Number.isFinite(value[1]);
}

const isNormalised = (points: readonly Point[]) => points.every(([x, y]) => x >= 0 && x <= 1 && y >= 0 && y <= 1);

function newZoneCounter(config: ZoneConfig): ZoneCounter {
  return {
    config,
    normalised: isNormalised(config.polygon),
    current: 0,
    entries: 0,
    exits: 0,
    dwellSum: 0,
    peak: 0,
    peakAt: null,
    classes: new Map(),
    recentExits: [],
    alert: config.alert === undefined ? null : new ZoneAlert(alertRule(config.alert, config.id, config.queue === true)),
    staffInside: 0,
    staffEntries: 0,
    staffExits: 0,
  };
}

function newLineCounter(config: LineConfig): LineCounter {
  return { config, normalised: isNormalised([config.from, config.to]), in: 0, out: 0 };
}

/** A person's state in a zone they are not in, as of `at` where they stood. */
function outside(at: number, position: Point): ZoneMembership {
  return { state: false, candidate: false, run: 0, runStartFrame: 0, runStartedAt: at, runStart: position, enteredAt: 0, visitId: '', enteredAs: '' };
}

/** The same zone or line (same id, shape and rules), whatever its name and the order of its keys. */
function sameSettings(a: ZoneConfig | LineConfig, b: ZoneConfig | LineConfig): boolean {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (typeof value !== 'object' || value === null) return value;
    return Object.keys(value).sort().filter((key) => key !== 'name').map((key) => [key, canonical((value as Record<string, unknown>)[key])]);
  };
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Checks a layout as users write it (JSON from the editor or a file) and says exactly what is wrong. */
export function validateLayout(layout: unknown): Required<ZoneLayout> {
  if (typeof layout !== 'object' || layout === null) throw new Error('the zone layout must be an object {zones: [...], lines: [...]}');
  const { zones = [], lines = [] } = layout as ZoneLayout;
  if (!Array.isArray(zones) || !Array.isArray(lines)) throw new Error('"zones" and "lines" must be arrays');
  const ids = new Set<string>();
  const checkCommon = (item: { id?: unknown; minFrames?: unknown }, what: string, index: number) => {
    if (typeof item?.id !== 'string' || item.id.trim() === '') throw new Error(`${what} ${index + 1} needs an "id" (a non-empty string)`);
    if (ids.has(item.id)) throw new Error(`the id "${item.id}" is used twice; zone and line ids must be unique`);
    ids.add(item.id);
    if (item.minFrames !== undefined && !(Number.isInteger(item.minFrames) && (item.minFrames as number) >= 1)) {
      throw new Error(`${what} "${item.id}": minFrames must be a whole number from 1, got ${JSON.stringify(item.minFrames)}`);
    }
  };
  zones.forEach((zone, i) => {
    checkCommon(zone, 'zone', i);
    if (!Array.isArray(zone.polygon) || zone.polygon.length < 3 || !zone.polygon.every(isPoint)) {
      throw new Error(`zone "${zone.id}": "polygon" must be at least 3 points [x, y] with finite numbers`);
    }
    if (zone.alert !== undefined) alertRule(zone.alert, zone.id, zone.queue === true);
    if (zone.exclusion !== undefined) staffSeconds(zone);
  });
  lines.forEach((line, i) => {
    checkCommon(line, 'line', i);
    if (!isPoint(line.from) || !isPoint(line.to)) throw new Error(`line "${line.id}": "from" and "to" must be points [x, y]`);
    if (line.from[0] === line.to[0] && line.from[1] === line.to[1]) throw new Error(`line "${line.id}": "from" and "to" are the same point`);
    if (line.staffOnly !== undefined && typeof line.staffOnly !== 'boolean') throw new Error(`line "${line.id}": "staffOnly" must be true or false`);
    if (line.staffOnly && line.footfall) throw new Error(`line "${line.id}": a staff-only line cannot count footfall`);
  });
  return { zones, lines };
}

/** The seconds in a staff zone that make a person staff, checked. */
function staffSeconds(zone: ZoneConfig): number {
  const exclusion = zone.exclusion as unknown;
  if (typeof exclusion !== 'object' || exclusion === null || Array.isArray(exclusion)) throw new Error(`zone "${zone.id}": "exclusion" must be an object {"seconds": N}`);
  const seconds = (exclusion as { seconds?: unknown }).seconds ?? 20;
  if (typeof seconds !== 'number' || !(seconds >= 0 && seconds <= MAX_TIMEOUT_SECONDS)) throw new Error(`zone "${zone.id}": exclusion "seconds" must be from 0 to ${MAX_TIMEOUT_SECONDS}, got ${JSON.stringify(seconds)}`);
  return seconds;
}

/** Checks zone options as users set them in the editor and says what is wrong. */
export function validateZoneOptions(options: ZoneOptions): ZoneOptions {
  const { anchor, trackTimeoutSeconds, relinkSeconds, relinkDistance, queueWindowSeconds } = options;
  if (anchor !== 'bottom-center' && anchor !== 'center') throw new Error(`the position must be "bottom-center" or "center", got ${JSON.stringify(anchor)}`);
  for (const [name, value] of [['track timeout', trackTimeoutSeconds], ['time to continue a lost track', relinkSeconds]] as const) {
    if (!(value >= 0 && value <= MAX_TIMEOUT_SECONDS)) throw new Error(`the ${name} must be from 0 to ${MAX_TIMEOUT_SECONDS} seconds, got ${value}`);
  }
  if (!(relinkDistance > 0 && Number.isFinite(relinkDistance))) throw new Error(`the distance to continue a lost track must be above 0 box heights, got ${relinkDistance}`);
  if (!(queueWindowSeconds > 0)) throw new Error(`the queue window must be above 0 seconds, got ${queueWindowSeconds}`);
  return options;
}

/**
 * Counts entries, exits, dwell and occupancy of polygon zones and crossings of counting lines for the tracks
 * of one camera. Feed it every frame's confirmed tracks with the frame's capture time.
 */
export class ZoneAnalytics {
  readonly options: ZoneOptions;
  private zones: ZoneCounter[] = [];
  private lines: LineCounter[] = [];
  private readonly tracks = new Map<number, TrackState>();
  private footfallIds = new Set<string>();
  private staffOnlyIds = new Set<string>();
  /** The staff zones by index, with the seconds in them that make a person staff. */
  private staffZones: { index: number; seconds: number }[] = [];
  /** Whether the layout recognises staff at all: without, nothing of it shows. */
  private keepsStaff = false;
  /** Exits of visits restored from saved counters, given out with the next update. */
  private restoredExits: ZoneEvent[] = [];
  private people = 0;
  /** The camera frame of the latest update. */
  private frame = 0;
  /** The frames of the last updates by their time, oldest first. */
  private readonly recentFrames: { at: number; frame: number }[] = [];
  private nearBoundary = false;

  constructor(layout: ZoneLayout, options: Partial<ZoneOptions> = {}) {
    this.options = validateZoneOptions({ ...DEFAULT_ZONE_OPTIONS, ...options });
    const { zones, lines } = validateLayout(layout);
    this.configure(zones.map(newZoneCounter), lines.map(newLineCounter));
  }

  /**
   * Counting goes on with another layout (drawn on the dashboard, sent in a message). A zone or line whose id and
   * settings are the same keeps everything, people inside included. One that changed keeps its id's totals, but its
   * visits under way end (reason `layout`) and whoever stands in its new shape enters it anew; a removed zone's
   * visits end the same way. Returns those exits: entries − exits stays the people inside.
   */
  relayout(layout: ZoneLayout): ZoneEvent[] {
    const { zones, lines } = validateLayout(layout);
    // For each new zone and line, the index of the old one it is unchanged from, or -1.
    const zoneKept = zones.map((config) => this.zones.findIndex((zone) => sameSettings(zone.config, config)));
    const lineKept = lines.map((config) => this.lines.findIndex((line) => sameSettings(line.config, config)));
    const stays = new Set(zoneKept);
    const events: ZoneEvent[] = [];
    this.zones.forEach((zone, z) => {
      if (stays.has(z)) return;
      for (const [trackId, state] of this.tracks) {
        const membership = state.zones[z];
        if (membership.state) events.push(this.exit(zone, trackId, state, membership, state.lastSeenAt, 'layout'));
      }
    });
    for (const state of this.tracks.values()) {
      const at = state.last?.position ?? [0, 0];
      state.zones = zoneKept.map((z) => (z >= 0 ? state.zones[z] : outside(state.lastSeenAt, at)));
      state.secondsIn = zoneKept.map((z) => (z >= 0 ? state.secondsIn[z] : 0));
      state.lines = lineKept.map((l) => (l >= 0 ? state.lines[l] : null));
    }
    // A changed zone or line goes on counting under its id: the day's totals stay, the shape and rules are new.
    const zoneCounters = zones.map((config, i) => {
      if (zoneKept[i] >= 0) return { ...this.zones[zoneKept[i]], config };
      const old = this.zones.find((zone) => zone.config.id === config.id);
      return old ? { ...old, config, normalised: isNormalised(config.polygon), alert: newZoneCounter(config).alert } : newZoneCounter(config);
    });
    const lineCounters = lines.map((config) => {
      const old = this.lines.find((line) => line.config.id === config.id);
      return old ? { ...old, config, normalised: isNormalised([config.from, config.to]) } : newLineCounter(config);
    });
    this.configure(zoneCounters, lineCounters);
    return events;
  }

  private configure(zones: ZoneCounter[], lines: LineCounter[]): void {
    this.zones = zones;
    this.lines = lines;
    this.staffZones = zones.flatMap(({ config }, index) => (config.exclusion === undefined ? [] : [{ index, seconds: staffSeconds(config) }]));
    this.keepsStaff = this.staffZones.length > 0 || lines.some((l) => l.config.staffOnly);
    this.footfallIds = new Set([...zones, ...lines].filter((x) => x.config.footfall).map((x) => x.config.id));
    this.staffOnlyIds = new Set(lines.filter((l) => l.config.staffOnly).map((l) => l.config.id));
  }

  /**
   * Whether someone in the latest update stands within about a second's walk of a line or a zone's edge: where a
   * count is about to be made, and where a detection more or less decides it (yolo-detect's "Faster near lines").
   */
  get wantsFasterDetection(): boolean {
    return this.nearBoundary;
  }

  private someoneNearABoundary(tracks: readonly TrackObservation[], frameSize: { width: number; height: number } | undefined): boolean {
    const edges: [Point, Point][] = [];
    try {
      for (const line of this.lines) {
        const [a, b] = this.scaled([line.config.from, line.config.to], line.normalised, frameSize, line.config.id);
        edges.push([a, b]);
      }
      for (const zone of this.zones) {
        const polygon = this.scaled(zone.config.polygon, zone.normalised, frameSize, zone.config.id);
        polygon.forEach((corner, i) => edges.push([polygon[i === 0 ? polygon.length - 1 : i - 1], corner]));
      }
    } catch {
      // Normalised shapes without a frame size: counting itself says so.
      return false;
    }
    return tracks.some((track) => {
      const position = this.position(track.bbox);
      const height = track.bbox[3] - track.bbox[1];
      if (!position || !(height > 0)) return false;
      return edges.some(([a, b]) => distanceToSegment(position, a, b) < NEAR_BOUNDARY_HEIGHTS * height);
    });
  }

  /** Different people seen so far: track ids, less those that continued a lost person. */
  get peopleSeen(): number {
    return this.people;
  }

  /** Tracks with per-zone state; bounded by the tracks alive within the timeout. */
  get trackedCount(): number {
    return this.tracks.size;
  }

  /**
   * One frame: `tracks` are the tracker's confirmed tracks, `timestamp` the capture time in ms. `frameSize` is
   * needed for normalised shapes. `frame` is the camera's frame number, counting frames not detected too (so
   * `minFrames` means the same at any detection rate); without it each update is the next frame. Returns the
   * events of this frame, including exits of tracks that timed out.
   */
  update(tracks: readonly TrackObservation[], timestamp: number, frameSize?: { width: number; height: number }, frame?: number): ZoneEvent[] {
    // A camera restarted from frame 1 (or numbers out of order) must not undo a run: frames only move forward.
    this.frame = frame !== undefined && Number.isFinite(frame) && frame > this.frame ? frame : this.frame + 1;
    const events: ZoneEvent[] = this.restoredExits;
    this.restoredExits = [];
    this.relinkNewTracks(tracks, timestamp);
    for (const track of tracks) {
      const position = this.position(track.bbox);
      if (!position) continue;
      let state = this.tracks.get(track.id);
      if (!state) {
        this.people++;
        state = {
          lastSeenAt: timestamp,
          last: null,
          recent: [],
          height: 0,
          label: typeof track.label === 'string' ? track.label : null,
          zones: this.zones.map(() => outside(timestamp, position)),
          lines: this.lines.map(() => null),
          staff: false,
          footfallAt: [],
          secondsIn: this.zones.map(() => 0),
        };
        this.tracks.set(track.id, state);
        const birth = this.birthOf(track, timestamp);
        if (birth) this.observe(track, state, birth, frameSize, events);
      }
      this.observe(track, state, { frame: this.frame, at: timestamp, position }, frameSize, events);
    }
    this.nearBoundary = this.someoneNearABoundary(tracks, frameSize);
    this.recentFrames.push({ at: timestamp, frame: this.frame });
    if (this.recentFrames.length > FRAMES_REMEMBERED) this.recentFrames.shift();
    for (const [id, state] of this.tracks) {
      if (timestamp - state.lastSeenAt > this.options.trackTimeoutSeconds * 1000) events.push(...this.endTrack(id));
    }
    if (this.tracks.size > MAX_TRACK_STATES) {
      // More people than any view holds: a flood of ids. The longest unseen end first, as they would at their timeout.
      const oldest = [...this.tracks].sort((a, b) => a[1].lastSeenAt - b[1].lastSeenAt).slice(0, this.tracks.size - MAX_TRACK_STATES);
      for (const [id] of oldest) events.push(...this.endTrack(id));
    }
    for (const zone of this.zones) {
      if (!zone.alert) continue;
      const value = zone.alert.rule.measure === 'wait' ? (this.queueEstimate(zone, timestamp).estimatedWaitSeconds ?? 0) : zone.current;
      const change = zone.alert.update(value, timestamp);
      if (change) events.push({ type: 'alert', zoneId: zone.config.id, ...change });
    }
    return events;
  }

  private observe(track: TrackObservation, state: TrackState, now: Observation, frameSize: { width: number; height: number } | undefined, events: ZoneEvent[]): void {
    state.lastSeenAt = now.at;
    state.recent.push({ time: now.at, at: now.position });
    if (state.recent.length > MOTION_HISTORY) state.recent.shift();
    state.height = track.bbox[3] - track.bbox[1];
    state.label = typeof track.label === 'string' ? track.label : state.label;
    const first = events.length;
    this.observeZones(track.id, state, now, frameSize, events);
    this.observeLines(track.id, state, now, frameSize, events);
    if (this.keepsStaff) this.recogniseStaff(track.id, state, now, events.slice(first), events);
    if (!state.staff) for (const event of events.slice(first)) if (this.isFootfall(event)) state.footfallAt.push(event.at);
    state.last = now;
  }

  /** Where a new track was first seen, when that was at one of the last updates before this one. */
  private birthOf(track: TrackObservation, timestamp: number): Observation | null {
    const birth = track.firstSeen;
    if (!birth || !(birth.at < timestamp)) return null;
    const frame = this.recentFrames.find((f) => f.at === birth.at)?.frame;
    const position = this.position(birth.bbox);
    return frame !== undefined && position ? { frame, at: birth.at, position } : null;
  }

  /**
   * Gives each track id seen for the first time the state of the lost person it most plausibly is: one unseen
   * for at most relinkSeconds (and not seen in this frame), whose position extrapolated from its last
   * few steps lies within relinkDistance box heights of the new track, with a box of similar height. Nearest
   * first; each lost person continues at most one new track.
   */
  private relinkNewTracks(tracks: readonly TrackObservation[], timestamp: number): void {
    const { relinkSeconds, relinkDistance } = this.options;
    // Most frames bring no new id: then there is nothing to look up, and this runs on every frame.
    if (relinkSeconds <= 0 || tracks.every((t) => this.tracks.has(t.id))) return;
    const present = new Set(tracks.map((t) => t.id));
    let lost = [...this.tracks].filter(([id, state]) => !present.has(id) && timestamp - state.lastSeenAt <= relinkSeconds * 1000);
    if (lost.length === 0) return;
    // A flood of ids (hostile or broken input) must not cost new × lost comparisons: the most recently lost are enough.
    if (lost.length > MAX_RELINK_CANDIDATES) lost = lost.sort((a, b) => b[1].lastSeenAt - a[1].lastSeenAt).slice(0, MAX_RELINK_CANDIDATES);
    const candidates: { distance: number; newId: number; lostId: number }[] = [];
    let fresh = 0;
    for (const track of tracks) {
      if (this.tracks.has(track.id) || ++fresh > MAX_RELINK_CANDIDATES) continue;
      const position = this.position(track.bbox);
      const height = track.bbox[3] - track.bbox[1];
      if (!position || !(height > 0)) continue;
      for (const [lostId, state] of lost) {
        if (!similarHeights(height, state.height)) continue;
        const [x, y] = expectedPosition(state, timestamp);
        const distance = Math.hypot(position[0] - x, position[1] - y);
        if (distance <= relinkDistance * Math.max(height, state.height)) candidates.push({ distance, newId: track.id, lostId });
      }
    }
    candidates.sort((a, b) => a.distance - b.distance);
    const taken = new Set<number>();
    for (const { newId, lostId } of candidates) {
      if (taken.has(newId) || !this.tracks.has(lostId)) continue;
      taken.add(newId);
      this.tracks.set(newId, this.tracks.get(lostId)!);
      this.tracks.delete(lostId);
    }
  }

  /** A track ended (the tracker said so, or the input ended): exits at the last time it was seen. */
  endTrack(trackId: number, reason: ExitReason = 'lost'): ZoneEvent[] {
    const state = this.tracks.get(trackId);
    if (!state) return [];
    this.tracks.delete(trackId);
    const events: ZoneEvent[] = [];
    state.zones.forEach((membership, z) => {
      if (membership.state) events.push(this.exit(this.zones[z], trackId, state, membership, state.lastSeenAt, reason));
    });
    return events;
  }

  /** Ends every track, as at the end of a recording; restored visits not yet given out come first. */
  endAll(reason: ExitReason = 'lost'): ZoneEvent[] {
    const events = this.restoredExits;
    this.restoredExits = [];
    return [...events, ...[...this.tracks.keys()].flatMap((id) => this.endTrack(id, reason))];
  }

  stats(now?: number): { zones: ZoneStats[]; lines: LineStats[] } {
    const zones = this.zones.map((zone): ZoneStats => {
      const stats: ZoneStats = {
        id: zone.config.id,
        name: zone.config.name ?? zone.config.id,
        currentCount: zone.current,
        totalEntries: zone.entries,
        totalExits: zone.exits,
        avgDwellSeconds: zone.exits - zone.staffExits > 0 ? zone.dwellSum / (zone.exits - zone.staffExits) : null,
        peakCount: zone.peak,
        peakAt: zone.peakAt,
      };
      if (zone.classes.size > 1) {
        stats.byClass = Object.fromEntries([...zone.classes].map(([label, c]) => [label, { currentCount: c.current, totalEntries: c.entries }]));
      }
      if (zone.config.queue) stats.queue = this.queueEstimate(zone, now);
      if (zone.alert) stats.alert = zone.alert.state();
      if (this.keepsStaff) stats.staff = { inside: zone.staffInside, entries: zone.staffEntries };
      return stats;
    });
    const lines = this.lines.map((line) => ({ id: line.config.id, name: line.config.name ?? line.config.id, in: line.in, out: line.out }));
    return { zones, lines };
  }

  /** The zones and lines in frame pixels, for drawing; normalised shapes need the frame size. */
  geometry(frameSize?: { width: number; height: number }): ZoneGeometry {
    return {
      zones: this.zones.map((z) => ({ id: z.config.id, name: z.config.name ?? z.config.id, polygon: [...this.scaled(z.config.polygon, z.normalised, frameSize, z.config.id)] })),
      lines: this.lines.map((l) => {
        const [from, to] = this.scaled([l.config.from, l.config.to], l.normalised, frameSize, l.config.id);
        return { id: l.config.id, name: l.config.name ?? l.config.id, from, to };
      }),
    };
  }

  /**
   * The counters to persist, by `zone:<id>` and `line:<id>`, with the visits under way, which are ended with
   * `openVisitsEnd` when the counters are restored (their tracks end with the process): the books balance.
   */
  totals(openVisitsEnd: ExitReason): Record<string, ZoneTotals | LineTotals> {
    const totals: Record<string, ZoneTotals | LineTotals> = {};
    this.zones.forEach((zone, z) => {
      const open: OpenVisit[] = [];
      for (const [trackId, state] of this.tracks) {
        const { state: inside, visitId, enteredAt, enteredAs } = state.zones[z];
        if (inside) open.push({ trackId, visitId, enteredAt, lastSeenAt: state.lastSeenAt, label: state.label, enteredAs, endReason: openVisitsEnd, ...(state.staff ? { staff: true } : {}) });
      }
      totals[`zone:${zone.config.id}`] = {
        entries: zone.entries,
        exits: zone.exits,
        dwellSum: zone.dwellSum,
        peak: zone.peak,
        peakAt: zone.peakAt,
        classEntries: Object.fromEntries([...zone.classes].map(([label, c]) => [label, c.entries])),
        ...(this.keepsStaff ? { staffEntries: zone.staffEntries, staffExits: zone.staffExits } : {}),
        open,
      };
    });
    for (const line of this.lines) totals[`line:${line.config.id}`] = { in: line.in, out: line.out };
    return totals;
  }

  /**
   * Restores persisted counters of zones and lines that still exist in the layout, and ends the visits that were
   * under way when they were saved, each with the reason saved with it, at the last time it was seen: their exit
   * events come with the next update.
   */
  restoreTotals(totals: Record<string, unknown>): void {
    for (const zone of this.zones) {
      const saved = totals[`zone:${zone.config.id}`] as ZoneTotals | undefined;
      if (!saved) continue;
      zone.entries = saved.entries;
      zone.exits = saved.exits;
      zone.dwellSum = saved.dwellSum;
      zone.peak = saved.peak;
      zone.peakAt = saved.peakAt;
      zone.staffEntries = saved.staffEntries ?? 0;
      zone.staffExits = saved.staffExits ?? 0;
      for (const [label, entries] of Object.entries(saved.classEntries ?? {})) zone.classes.set(label, { current: 0, entries });
      for (const visit of saved.open ?? []) {
        // Inside as saved, then ended at once: exit() takes them out of the counts it put them in.
        zone.current++;
        if (visit.staff) zone.staffInside++;
        const cls = zone.classes.get(visit.enteredAs) ?? { current: 0, entries: 0 };
        cls.current++;
        zone.classes.set(visit.enteredAs, cls);
        const membership = { enteredAt: visit.enteredAt, visitId: visit.visitId, enteredAs: visit.enteredAs };
        this.restoredExits.push(this.exit(zone, visit.trackId, { label: visit.label, staff: visit.staff === true }, membership, visit.lastSeenAt, visit.endReason));
      }
    }
    for (const line of this.lines) {
      const saved = totals[`line:${line.config.id}`] as LineTotals | undefined;
      if (saved) Object.assign(line, { in: saved.in, out: saved.out });
    }
  }

  /**
   * The events that are footfall: entries of zones and `in` crossings of lines marked `footfall: true`; when
   * nothing is marked, every line's `in` crossings (but staff-only lines'), or every zone's entries when there are
   * no lines. Never a person known as staff.
   */
  footfallEvents(events: readonly ZoneEvent[]): ZoneEvent[] {
    return events.filter((e) => this.isFootfall(e));
  }

  private isFootfall(e: ZoneEvent): boolean {
    const marked = this.footfallIds;
    if (e.type === 'cross') return !e.staff && e.direction === 'in' && (marked.size > 0 ? marked.has(e.lineId) : !this.staffOnlyIds.has(e.lineId));
    if (e.type === 'enter') return !e.staff && (marked.size > 0 ? marked.has(e.zoneId) : this.lines.length === 0);
    return false;
  }

  /**
   * A person is staff once they have spent more than a staff zone's seconds in it during this track (visits that
   * ended and the one under way), or crossed a staff-only line: their visits under way count as staff from now on,
   * and the footfall they were counted as is handed back in the staff event.
   */
  private recogniseStaff(trackId: number, state: TrackState, now: Observation, fresh: readonly ZoneEvent[], events: ZoneEvent[]): void {
    if (state.staff) return;
    let why: { reason: string; zoneId?: string; lineId?: string } | null = null;
    const door = fresh.find((e) => e.type === 'cross' && e.trackId === trackId && this.staffOnlyIds.has(e.lineId));
    if (door?.type === 'cross') why = { reason: `crossed the staff-only line "${door.lineId}"`, lineId: door.lineId };
    for (const { index, seconds } of this.staffZones) {
      if (why) break;
      const membership = state.zones[index];
      const spent = state.secondsIn[index] + (membership.state ? (now.at - membership.enteredAt) / 1000 : 0);
      const zoneId = this.zones[index].config.id;
      if (spent > seconds) why = { reason: `spent ${Math.round(spent)} s in the staff zone "${zoneId}" (more than ${seconds} s)`, zoneId };
    }
    if (!why) return;
    state.staff = true;
    state.zones.forEach((membership, z) => {
      if (!membership.state) return;
      this.zones[z].staffInside++;
      this.zones[z].staffEntries++;
    });
    // What this very observation brought is the staff member's: not footfall (an exit in it was a visit that ended before).
    for (const e of fresh) if (e.type === 'enter' || e.type === 'cross') e.staff = true;
    events.push({ type: 'staff', trackId, at: now.at, ...why, footfallAt: state.footfallAt, label: state.label });
    state.footfallAt = [];
  }

  private position(box: Box): Point | null {
    if (!Array.isArray(box) || !box.slice(0, 4).every(Number.isFinite)) return null;
    const x = (box[0] + box[2]) / 2;
    return this.options.anchor === 'center' ? [x, (box[1] + box[3]) / 2] : [x, box[3]];
  }

  private scaled(points: readonly Point[], normalised: boolean, frameSize: { width: number; height: number } | undefined, id: string): readonly Point[] {
    if (!normalised) return points;
    if (!frameSize) throw new Error(`"${id}" uses normalised coordinates (0..1), which need the frame size`);
    return points.map(([x, y]) => [x * frameSize.width, y * frameSize.height]);
  }

  private observeZones(trackId: number, state: TrackState, now: Observation, frameSize: { width: number; height: number } | undefined, events: ZoneEvent[]) {
    this.zones.forEach((zone, z) => {
      const polygon = this.scaled(zone.config.polygon, zone.normalised, frameSize, zone.config.id);
      const inside = insidePolygon(now.position, polygon);
      const membership = state.zones[z];
      const crossing = (from: Point) => lastCrossingAlong(from, now.position, polygon);
      if (!debounce(membership, inside, zone.config.minFrames ?? 1, state.last, now, crossing)) return;
      if (inside) {
        membership.enteredAt = membership.runStartedAt;
        membership.visitId = `${zone.config.id}:${trackId}:${membership.enteredAt}`;
        membership.enteredAs = state.label ?? 'unknown';
        zone.entries++;
        zone.current++;
        if (state.staff) {
          zone.staffEntries++;
          zone.staffInside++;
        }
        const label = membership.enteredAs;
        const cls = zone.classes.get(label) ?? { current: 0, entries: 0 };
        cls.current++;
        cls.entries++;
        zone.classes.set(label, cls);
        if (zone.current > zone.peak) {
          zone.peak = zone.current;
          zone.peakAt = membership.runStartedAt;
        }
        events.push({ type: 'enter', zoneId: zone.config.id, trackId, at: membership.runStartedAt, visitId: membership.visitId, label: state.label, ...(state.staff ? { staff: true as const } : {}) });
      } else {
        state.secondsIn[z] += Math.max(0, (membership.runStartedAt - membership.enteredAt) / 1000);
        events.push(this.exit(zone, trackId, state, membership, membership.runStartedAt, 'left'));
      }
    });
  }

  private observeLines(trackId: number, state: TrackState, now: Observation, frameSize: { width: number; height: number } | undefined, events: ZoneEvent[]) {
    const p = now.position;
    this.lines.forEach((line, l) => {
      const [a, b] = this.scaled([line.config.from, line.config.to], line.normalised, frameSize, line.config.id);
      const side = Math.sign(sideOfLine(p, a, b));
      // A point exactly on the line belongs to neither side: it neither confirms nor changes anything.
      if (side === 0) return;
      const known = state.lines[l];
      if (!known) {
        state.lines[l] = { state: side, candidate: side, run: 0, runStartFrame: 0, runStartedAt: now.at, runStart: p, lastOnSide: p };
        return;
      }
      const from = known.lastOnSide;
      if (!debounce(known, side, line.config.minFrames ?? 1, state.last, now, (from) => crossingAlong(from, p, a, b))) {
        if (side === known.state) known.lastOnSide = p;
        return;
      }
      known.lastOnSide = p;
      // The side changed; it is a crossing only if the step across went through the segment itself.
      if (!segmentsIntersect(from, known.runStart, a, b)) return;
      const direction = side > 0 ? 'in' : 'out';
      if (direction === 'in') line.in++;
      else line.out++;
      events.push({ type: 'cross', lineId: line.config.id, trackId, at: known.runStartedAt, direction, label: state.label, ...(state.staff ? { staff: true as const } : {}) });
    });
  }

  /** A visit ends; a staff member's is left out of the dwell and the queue's throughput. */
  private exit(zone: ZoneCounter, trackId: number, person: Pick<TrackState, 'label' | 'staff'>, membership: Pick<ZoneMembership, 'enteredAt' | 'visitId' | 'enteredAs'>, at: number, reason: ExitReason): ZoneEvent {
    const { enteredAt } = membership;
    const dwellSeconds = Math.max(0, (at - enteredAt) / 1000);
    zone.exits++;
    zone.current--;
    const cls = zone.classes.get(membership.enteredAs);
    if (cls) cls.current--;
    if (person.staff) {
      zone.staffExits++;
      zone.staffInside--;
    } else {
      zone.dwellSum += dwellSeconds;
      if (zone.config.queue) {
        zone.recentExits.push(at);
        if (zone.recentExits.length > MAX_RECENT_EXITS) zone.recentExits.shift();
      }
    }
    return {
      type: 'exit',
      zoneId: zone.config.id,
      trackId,
      at,
      enteredAt,
      dwellSeconds,
      reason,
      trackEnded: reason !== 'left',
      visitId: membership.visitId,
      label: person.label,
      ...(person.staff ? { staff: true as const } : {}),
    };
  }

  private queueEstimate(zone: ZoneCounter, now?: number): NonNullable<ZoneStats['queue']> {
    const windowMs = this.options.queueWindowSeconds * 1000;
    const end = now ?? zone.recentExits.at(-1) ?? 0;
    while (zone.recentExits.length > 0 && zone.recentExits[0] < end - windowMs) zone.recentExits.shift();
    const perSecond = zone.recentExits.length / this.options.queueWindowSeconds;
    // Staff in a queue zone (serving at the till) are not waiting.
    const waiting = zone.current - zone.staffInside;
    return {
      length: waiting,
      throughputPerMinute: perSecond * 60,
      estimatedWaitSeconds: perSecond > 0 ? waiting / perSecond : null,
    };
  }
}

/** Where a person not seen since their last observation would be now, moving on at their recent average velocity. */
function expectedPosition(state: TrackState, time: number): Point {
  const first = state.recent[0];
  const last = state.recent[state.recent.length - 1];
  const span = last.time - first.time;
  if (span <= 0) return last.at;
  const ahead = (time - last.time) / span;
  return [last.at[0] + (last.at[0] - first.at[0]) * ahead, last.at[1] + (last.at[1] - first.at[1]) * ahead];
}

/**
 * Feeds one observation to a debounced state; returns true when the state changes, which takes the person on
 * the new side for `minFrames` frames: `minFrames` consecutive observations when every frame is detected and
 * the boundary is crossed between two of them; at a lower detection rate, as many frames from where the path
 * between the last observation on the old side and the first on the new one crossed it (`crossing` gives the
 * fraction of that path) — so the same rule holds at any rate, and a person well past the boundary when first
 * seen there has crossed already.
 */
function debounce<T>(d: Debounced<T>, observed: T, minFrames: number, previous: Observation | null, now: Observation, crossing: (from: Point) => number): boolean {
  if (observed === d.state) {
    d.run = 0;
    return false;
  }
  if (d.run === 0 || observed !== d.candidate) {
    d.candidate = observed;
    d.run = 0;
    // Every frame seen: the crossing is taken to be at the first observation on the new side, as a count of frames.
    const gap = previous && now.frame - previous.frame > 1 ? crossing(previous.position) : 1;
    d.runStartFrame = previous && gap < 1 ? previous.frame + gap * (now.frame - previous.frame) : now.frame;
    d.runStartedAt = previous && gap < 1 ? previous.at + gap * (now.at - previous.at) : now.at;
    d.runStart = now.position;
  }
  d.run++;
  if (now.frame - d.runStartFrame + 1 < minFrames) return false;
  d.state = observed;
  d.run = 0;
  return true;
}
