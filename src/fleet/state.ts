import type { LineStats, ZoneGeometry, ZoneStats } from '../analytics/zones';
import { EXTRA_COUNTS, type CounterTallies, type DayPeak, type ExtraCount, type HourBucket, type MinuteBucket } from '../metrics/collector';
import { checkCameraId, describeValue, MessageError } from '../messages';

/** How a camera is doing on its worker, from its camera-source and yolo-detect nodes. */
export interface CameraDescription {
  name: string;
  /** The camera's own state (running, reconnecting, …). */
  state: string;
  fps: number;
  width: number | null;
  height: number | null;
  lastFrameAt: number | null;
  detection: Record<string, unknown> | null;
}

/**
 * What a worker publishes of one camera. Counters are the worker's cumulative totals, never increments, so the
 * same state read twice, or late, or after a lost one, gives the same totals.
 */
export interface CameraState extends CameraDescription {
  instance: string;
  cameraId: string;
  /** The publisher's start (ms since the epoch) and its count of publications since: (epoch, seq) orders states. */
  epoch: number;
  seq: number;
  publishedAt: number;
  /** After this long without a publication the camera is offline (the expiry of its live key). */
  offlineAfterMs: number;
  /** The time zone of the worker's local days and hours. */
  timeZone: string;
  framesProcessed: number;
  activeTracks: number;
  occupancy: number;
  zones: ZoneStats[];
  lines: LineStats[];
  geometry: ZoneGeometry | null;
  /** When the frame under the camera's frame key was taken; null when the worker shares no frames. */
  frameAt: number | null;
  heatmap: { at: number; format: 'png' | 'jpeg'; showsPeople: boolean } | null;
}

/** One publication on the live channel: the state and the buckets that changed (all of them after a reconnection). */
export interface LiveUpdate {
  camera: CameraState;
  minutes: MinuteBucket[];
  hours: HourBucket[];
  days: DayPeak[];
}

/** An event as it travels through the stream: zone-analytics' event with the fleet camera id, instance and an id. */
export interface FleetEvent {
  eventId: string;
  instance: string;
  cameraId: string;
  type: string;
  [key: string]: unknown;
}

/** Entries read from a list in Redis: beyond any real layout, small enough that a hostile value cannot exhaust memory. */
const MAX_ENTRIES = 10_000;
const MAX_TEXT = 200;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const finite = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const count = (value: unknown): value is number => finite(value) && value >= 0;

function text(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TEXT) throw new MessageError(`${what} must be a string of 1 to ${MAX_TEXT} characters, got ${describeValue(value)}`);
  return value;
}

function numberOrNull(value: unknown): number | null {
  return finite(value) ? value : null;
}

function list<T>(value: unknown, what: string, read: (entry: unknown) => T | null): T[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new MessageError(`${what} must be an array, got ${describeValue(value)}`);
  if (value.length > MAX_ENTRIES) throw new MessageError(`${what} has ${value.length} entries; at most ${MAX_ENTRIES} are read`);
  return value.flatMap((entry) => {
    const kept = read(entry);
    return kept === null ? [] : [kept];
  });
}

/** The counts a bucket has only where they apply, those well formed. */
const readExtras = (b: Record<string, unknown>): Partial<Record<ExtraCount, number>> =>
  Object.fromEntries(EXTRA_COUNTS.flatMap((extra) => (count(b[extra]) ? [[extra, b[extra]]] : [])));

/** Counters per zone and line: a bucket whose tallies are not all well formed keeps none, rather than some. */
function readTallies(value: unknown): { counters?: CounterTallies } {
  if (!isObject(value)) return {};
  const entries = Object.entries(value);
  if (entries.length > MAX_ENTRIES) return {};
  const counters: CounterTallies = {};
  for (const [key, t] of entries) {
    if (key.length > MAX_TEXT + 5 || !/^(zone|line):/.test(key) || !isObject(t) || !count(t.in) || !count(t.out) || !count(t.dwellSum) || !count(t.peak)) return {};
    if (t.staff !== undefined && !count(t.staff)) return {};
    counters[key] = { in: t.in, out: t.out, dwellSum: t.dwellSum, peak: t.peak, ...(t.staff === undefined ? {} : { staff: t.staff }) };
  }
  return { counters };
}

const readMinute = (b: unknown): MinuteBucket | null =>
  isObject(b) && finite(b.start) && count(b.footfall) && count(b.occupancyMax) && count(b.occupancySum) && count(b.samples)
    ? { start: b.start, footfall: b.footfall, occupancyMax: b.occupancyMax, occupancySum: b.occupancySum, samples: b.samples, ...readExtras(b), ...readTallies(b.counters) }
    : null;

const readHour = (b: unknown): HourBucket | null =>
  isObject(b) && typeof b.key === 'string' && b.key.length <= 40 && typeof b.day === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(b.day) && finite(b.start) && count(b.footfall)
    ? { key: b.key, day: b.day, start: b.start, footfall: b.footfall, ...readExtras(b), ...readTallies(b.counters) }
    : null;

const readDay = (b: unknown): DayPeak | null =>
  isObject(b) && typeof b.day === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(b.day) && count(b.peak) && finite(b.peakAt) ? { day: b.day, peak: b.peak, peakAt: b.peakAt } : null;

export const readBucket = { minute: readMinute, hour: readHour, day: readDay };

const readZone = (z: unknown): ZoneStats | null =>
  isObject(z) && typeof z.id === 'string' && count(z.currentCount) && count(z.totalEntries) && count(z.totalExits) ? (z as unknown as ZoneStats) : null;

const readLine = (l: unknown): LineStats | null => (isObject(l) && typeof l.id === 'string' && count(l.in) && count(l.out) ? (l as unknown as LineStats) : null);

/** A camera state as read back from Redis, checked: anything another program wrote there is refused with a reason. */
export function readCameraState(value: unknown): CameraState {
  if (!isObject(value)) throw new MessageError(`a camera state must be an object, got ${describeValue(value)}`);
  const v = value;
  for (const field of ['epoch', 'seq', 'publishedAt', 'offlineAfterMs'] as const) {
    if (!count(v[field])) throw new MessageError(`camera state ${field} must be a number from 0, got ${describeValue(v[field])}`);
  }
  const heatmap = isObject(v.heatmap) && finite(v.heatmap.at)
    ? { at: v.heatmap.at, format: v.heatmap.format === 'jpeg' ? ('jpeg' as const) : ('png' as const), showsPeople: v.heatmap.showsPeople !== false }
    : null;
  const geometry = isObject(v.geometry) && Array.isArray(v.geometry.zones) && Array.isArray(v.geometry.lines) ? (v.geometry as unknown as ZoneGeometry) : null;
  return {
    instance: text(v.instance, 'camera state instance'),
    cameraId: checkCameraId(v.cameraId, 'camera state cameraId'),
    epoch: v.epoch as number,
    seq: v.seq as number,
    publishedAt: v.publishedAt as number,
    offlineAfterMs: v.offlineAfterMs as number,
    timeZone: typeof v.timeZone === 'string' ? v.timeZone.slice(0, MAX_TEXT) : 'UTC',
    name: typeof v.name === 'string' ? v.name.slice(0, MAX_TEXT) : String(v.cameraId),
    state: typeof v.state === 'string' ? v.state.slice(0, 40) : 'unknown',
    fps: count(v.fps) ? v.fps : 0,
    width: numberOrNull(v.width),
    height: numberOrNull(v.height),
    lastFrameAt: numberOrNull(v.lastFrameAt),
    framesProcessed: count(v.framesProcessed) ? v.framesProcessed : 0,
    activeTracks: count(v.activeTracks) ? v.activeTracks : 0,
    occupancy: count(v.occupancy) ? v.occupancy : 0,
    zones: list(v.zones, 'camera state zones', readZone),
    lines: list(v.lines, 'camera state lines', readLine),
    geometry,
    detection: isObject(v.detection) ? v.detection : null,
    frameAt: numberOrNull(v.frameAt),
    heatmap,
  };
}

/** A live-channel message, checked; its buckets are kept only where well formed. */
export function readLiveUpdate(json: string): LiveUpdate {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new MessageError(`a live update is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new MessageError(`a live update must be an object, got ${describeValue(value)}`);
  return {
    camera: readCameraState(value.camera),
    minutes: list(value.minutes, 'live update minutes', readMinute),
    hours: list(value.hours, 'live update hours', readHour),
    days: list(value.days, 'live update days', readDay),
  };
}

/** An event from the stream, checked. */
export function readFleetEvent(json: string): FleetEvent {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw new MessageError(`a fleet event is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new MessageError(`a fleet event must be an object, got ${describeValue(value)}`);
  return {
    ...value,
    eventId: text(value.eventId, 'fleet event eventId'),
    instance: text(value.instance, 'fleet event instance'),
    cameraId: checkCameraId(value.cameraId, 'fleet event cameraId'),
    type: text(value.type, 'fleet event type'),
  };
}

/** Whether state `a` was published after state `b` of the same camera: a later epoch, or a later seq in one epoch. */
export function newer(a: Pick<CameraState, 'epoch' | 'seq'>, b: Pick<CameraState, 'epoch' | 'seq'> | undefined): boolean {
  return !b || a.epoch > b.epoch || (a.epoch === b.epoch && a.seq > b.seq);
}
