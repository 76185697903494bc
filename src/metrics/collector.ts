import { StoreCalendar, type CalendarSettings } from './calendar';
import { DAY, LocalClock, MINUTE } from './local-time';

export const ALL_CAMERAS = '*';

/**
 * What one counter (a zone, `zone:<id>`, or a line, `line:<id>`) of a camera counted in a bucket: entries and exits
 * of a zone or crossings of a line, the dwell of the visits that ended, and the most people inside a zone at once.
 */
export interface CounterTally {
  in: number;
  out: number;
  /** Seconds, summed over the zone visits that ended in the bucket (`out` of them). */
  dwellSum: number;
  peak: number;
  /** Zone exits (of `out`) by staff, whose dwell is not in `dwellSum`. */
  staff?: number;
}

export type CounterTallies = Record<string, CounterTally>;

/**
 * Counts a bucket has only where they apply: footfall while the store was closed (store calendar), kept out of
 * `footfall`, buying units (groups entering together) among the footfall, and people recognised as staff.
 */
export const EXTRA_COUNTS = ['outsideHours', 'units', 'staff'] as const;
export type ExtraCount = (typeof EXTRA_COUNTS)[number];
type ExtraCounts = Partial<Record<ExtraCount, number>>;
/** The counts the all-cameras series adds up from the cameras'. */
const SUMMED_COUNTS = ['footfall', ...EXTRA_COUNTS] as const;

const copyTallies = (tallies: CounterTallies | undefined): CounterTallies | undefined =>
  tallies && Object.fromEntries(Object.entries(tallies).map(([key, tally]) => [key, { ...tally }]));

/** A bucket with its own copy of its tallies, for handing out or taking in. */
const copyBucket = <T extends { counters?: CounterTallies }>(bucket: T): T => (bucket.counters ? { ...bucket, counters: copyTallies(bucket.counters) } : { ...bucket });

export interface MinuteBucket {
  /** Start of the minute, ms since the epoch. */
  start: number;
  footfall: number;
  occupancyMax: number;
  occupancySum: number;
  samples: number;
  /** People counted as footfall while the store was closed (store calendar), kept out of `footfall`. */
  outsideHours?: number;
  /** Buying units among the footfall, when zone-analytics groups people entering together. */
  units?: number;
  /** People recognised as staff (staff zones, staff-only lines), their footfall taken back. */
  staff?: number;
  /** A camera's counters in this minute: every zone and line it counted with while it ran, zeros included. */
  counters?: CounterTallies;
}

export interface HourBucket {
  /** Local hour, e.g. `2026-11-28T14:00+01:00`. */
  key: string;
  day: string;
  start: number;
  footfall: number;
  outsideHours?: number;
  units?: number;
  staff?: number;
  /** A camera's counters in this hour. */
  counters?: CounterTallies;
}

export interface DayPeak {
  day: string;
  peak: number;
  peakAt: number;
}

export interface MetricsOptions {
  timeZone: string;
  minuteRetentionDays: number;
  hourRetentionDays: number;
  /** The store's opening hours as `calendarKey` writes them; null when the store keeps no calendar. */
  calendar: string | null;
}

export const DEFAULT_METRICS_OPTIONS: MetricsOptions = { timeZone: 'UTC', minuteRetentionDays: 7, hourRetentionDays: 400, calendar: null };

interface Series {
  minutes: Map<number, MinuteBucket>;
  hours: Map<string, HourBucket>;
  /** The same buckets by local day, so a day's figures cost its hours, not the whole retention. */
  hoursByDay: Map<string, Map<string, HourBucket>>;
  days: Map<string, DayPeak>;
  peak: { count: number; at: number | null };
  /** The latest occupancy of this camera, for the aggregate. */
  occupancy: number;
}

function add(bucket: ExtraCounts, extra: ExtraCount, count: number): void {
  bucket[extra] = (bucket[extra] ?? 0) + count;
}

/** The tally of one counter in a bucket, added at zero if it has none yet. */
function tallyOf(bucket: { counters?: CounterTallies }, counter: string): CounterTally {
  bucket.counters ??= {};
  return (bucket.counters[counter] ??= { in: 0, out: 0, dwellSum: 0, peak: 0 });
}

/** Keeps an hour bucket, replacing any of the same hour. */
function putHour(series: Series, bucket: HourBucket): void {
  const previous = series.hours.get(bucket.key);
  if (previous && previous.day !== bucket.day) series.hoursByDay.get(previous.day)?.delete(bucket.key);
  series.hours.set(bucket.key, bucket);
  let day = series.hoursByDay.get(bucket.day);
  if (!day) {
    day = new Map();
    series.hoursByDay.set(bucket.day, day);
  }
  day.set(bucket.key, bucket);
}

/** Rows changed since the last flush, for a store to write. */
export interface MetricsChanges {
  minutes: { series: string; bucket: MinuteBucket }[];
  hours: { series: string; bucket: HourBucket }[];
  days: { series: string; peak: DayPeak }[];
  removedBefore: { minutes: number; hours: number };
}

/** Buckets of one series. */
export interface SeriesRows {
  minutes: MinuteBucket[];
  hours: HourBucket[];
  days: DayPeak[];
}

/** The keys of one series' buckets changed since a reader last took them. */
interface ChangedKeys {
  minutes: Set<number>;
  hours: Set<string>;
  days: Set<string>;
}

/** What names a bucket of a kind: a minute's start, an hour's key, a peak's day. */
type BucketKey<K extends keyof ChangedKeys> = ChangedKeys[K] extends Set<infer T> ? T : never;

/**
 * What changed in a collector, for one consumer (its store, a fleet publisher): every bucket of the series it follows
 * that changes after the reader is opened, whatever its time, is handed over once by `take` or `takeAll`, with its
 * value then. Buckets dropped past retention are dropped from the reader too; a closed reader collects nothing more.
 */
export interface ChangeReader {
  /** One series' changed buckets, forgotten by this reader once taken. */
  take(series: string): SeriesRows;
  /** Every series' changed buckets, and the retention limits below which rows are gone, for a store to write. */
  takeAll(): MetricsChanges;
  close(): void;
}

/**
 * Footfall and occupancy over time, per camera and for all cameras together (series `*`): one-minute buckets,
 * local-hour footfall buckets in the store's time zone, and peak occupancy per local day and overall. Old
 * buckets are dropped past their retention.
 */
export class MetricsCollector {
  readonly options: MetricsOptions;
  /** The store's local time, in which hours and days are counted. */
  readonly clock: LocalClock;
  /** The store's opening hours, when it keeps a calendar. */
  readonly calendar: StoreCalendar | null;
  private readonly series = new Map<string, Series>();
  /** Each open reader: the series it follows, and their changes it has not taken yet. */
  private readonly readers = new Set<{ follows: (series: string) => boolean; changed: Map<string, ChangedKeys> }>();
  private dayOfMinute: { minute: number; day: string } = { minute: NaN, day: '' };
  private hourOfMinute: { minute: number; hour: { key: string; day: string; start: number } } = { minute: NaN, hour: { key: '', day: '', start: NaN } };
  private prunedMinute = -Infinity;

  constructor(options: Partial<MetricsOptions> = {}) {
    this.options = { ...DEFAULT_METRICS_OPTIONS, ...options };
    for (const key of ['minuteRetentionDays', 'hourRetentionDays'] as const) {
      if (!(this.options[key] > 0)) throw new RangeError(`${key} must be a positive number of days, got ${this.options[key]}`);
    }
    this.clock = new LocalClock(this.options.timeZone);
    this.calendar = this.options.calendar ? new StoreCalendar(JSON.parse(this.options.calendar) as CalendarSettings, this.clock) : null;
  }

  /**
   * People who entered (footfall) at `at`, for one camera, `units` of them starting a buying unit; while the store is
   * closed, counted apart (`outsideHours`).
   */
  recordFootfall(cameraId: string, at: number, count = 1, units = 0): void {
    if (cameraId === ALL_CAMERAS) throw new Error(`"${ALL_CAMERAS}" is reserved for all cameras together`);
    const open = this.calendar?.isOpen(at) ?? true;
    for (const id of [cameraId, ALL_CAMERAS]) {
      const series = this.seriesOf(id);
      for (const bucket of [this.minute(id, series, at), this.hour(id, series, at)]) {
        if (!open) add(bucket, 'outsideHours', count);
        else {
          bucket.footfall += count;
          if (units > 0) add(bucket, 'units', units);
        }
      }
    }
    this.prune(at);
  }

  /** A change to one counter of a camera at `at` (an entry, an exit and its dwell, a crossing), in its minute and hour. */
  recordCount(cameraId: string, at: number, counter: string, change: { in?: number; out?: number; dwellSeconds?: number; staff?: number }): void {
    if (cameraId === ALL_CAMERAS) throw new Error(`"${ALL_CAMERAS}" is reserved for all cameras together`);
    const series = this.seriesOf(cameraId);
    for (const bucket of [this.minute(cameraId, series, at), this.hour(cameraId, series, at)]) {
      const tally = tallyOf(bucket, counter);
      tally.in += change.in ?? 0;
      tally.out += change.out ?? 0;
      tally.dwellSum += change.dwellSeconds ?? 0;
      if (change.staff) tally.staff = (tally.staff ?? 0) + change.staff;
    }
    this.prune(at);
  }

  /** A person of one camera recognised as staff at `at`. */
  recordStaff(cameraId: string, at: number): void {
    if (cameraId === ALL_CAMERAS) throw new Error(`"${ALL_CAMERAS}" is reserved for all cameras together`);
    for (const id of [cameraId, ALL_CAMERAS]) {
      const series = this.seriesOf(id);
      add(this.minute(id, series, at), 'staff', 1);
      add(this.hour(id, series, at), 'staff', 1);
    }
    this.prune(at);
  }

  /**
   * The people inside each counter of a camera at `at` (0 for a line): every counter gets a tally in the minute and
   * hour, so intervals the camera ran with nothing counted are there as zeros, and a zone keeps its peak.
   */
  recordPresence(cameraId: string, at: number, inside: Record<string, number>): void {
    if (cameraId === ALL_CAMERAS) throw new Error(`"${ALL_CAMERAS}" is reserved for all cameras together`);
    const series = this.seriesOf(cameraId);
    for (const bucket of [this.minute(cameraId, series, at), this.hour(cameraId, series, at)]) {
      for (const [counter, count] of Object.entries(inside)) {
        const tally = tallyOf(bucket, counter);
        if (count > tally.peak) tally.peak = count;
      }
    }
    this.prune(at);
  }

  /** People present in one camera's view at `at`; the aggregate adds the latest value of every camera. */
  recordOccupancy(cameraId: string, at: number, occupancy: number): void {
    if (cameraId === ALL_CAMERAS) throw new Error(`"${ALL_CAMERAS}" is reserved for all cameras together`);
    const camera = this.seriesOf(cameraId);
    camera.occupancy = occupancy;
    let total = 0;
    for (const [id, s] of this.series) if (id !== ALL_CAMERAS) total += s.occupancy;
    this.sample(cameraId, camera, at, occupancy);
    this.sample(ALL_CAMERAS, this.seriesOf(ALL_CAMERAS), at, total);
    this.prune(at);
  }

  /**
   * Sets one camera's buckets to the values another store holds for it (a worker's, read through Redis): the
   * same rows given twice change nothing, and the all-cameras footfall follows by difference. Minute occupancy
   * of all cameras is left to recordTotalOccupancy.
   */
  setCamera(cameraId: string, rows: { minutes?: MinuteBucket[]; hours?: HourBucket[]; days?: DayPeak[] }): void {
    if (cameraId === ALL_CAMERAS) throw new Error(`"${ALL_CAMERAS}" is reserved for all cameras together`);
    const camera = this.seriesOf(cameraId);
    const all = this.seriesOf(ALL_CAMERAS);
    /** The all-cameras buckets follow the camera's footfall, footfall outside hours and units by difference. */
    const differences = (after: MinuteBucket | HourBucket, before: MinuteBucket | HourBucket | undefined) =>
      SUMMED_COUNTS.map((what) => [what, (after[what] ?? 0) - (before?.[what] ?? 0)] as const).filter(([, change]) => change !== 0);
    const addTo = (total: MinuteBucket | HourBucket, changes: ReturnType<typeof differences>) => {
      for (const [what, change] of changes) total[what] = (total[what] ?? 0) + change;
    };
    for (const bucket of rows.minutes ?? []) {
      const changes = differences(bucket, camera.minutes.get(bucket.start));
      camera.minutes.set(bucket.start, copyBucket(bucket));
      this.changed(cameraId, 'minutes', bucket.start);
      if (changes.length > 0) addTo(this.minute(ALL_CAMERAS, all, bucket.start), changes);
    }
    for (const bucket of rows.hours ?? []) {
      const changes = differences(bucket, camera.hours.get(bucket.key));
      putHour(camera, copyBucket(bucket));
      this.changed(cameraId, 'hours', bucket.key);
      if (changes.length === 0) continue;
      const total = all.hours.get(bucket.key) ?? { key: bucket.key, day: bucket.day, start: bucket.start, footfall: 0 };
      addTo(total, changes);
      putHour(all, total);
      this.changed(ALL_CAMERAS, 'hours', bucket.key);
    }
    for (const peak of rows.days ?? []) {
      camera.days.set(peak.day, { ...peak });
      this.changed(cameraId, 'days', peak.day);
      if (peak.peak > camera.peak.count) camera.peak = { count: peak.peak, at: peak.peakAt };
    }
  }

  /** Occupancy of all cameras together at `at`, for an aggregate whose per-camera samples are kept elsewhere. */
  recordTotalOccupancy(at: number, total: number): void {
    this.sample(ALL_CAMERAS, this.seriesOf(ALL_CAMERAS), at, total);
    this.prune(at);
  }

  /** Drops the cameras' buckets past retention, for an aggregate that only sets buckets. */
  expire(now: number): void {
    this.prune(now);
  }

  cameras(): string[] {
    return [...this.series.keys()].filter((id) => id !== ALL_CAMERAS);
  }

  minutes(cameraId = ALL_CAMERAS, from = -Infinity, to = Infinity): MinuteBucket[] {
    const buckets = [...(this.series.get(cameraId)?.minutes.values() ?? [])].filter((b) => b.start >= from && b.start < to);
    return buckets.sort((a, b) => a.start - b.start).map(copyBucket);
  }

  hours(cameraId = ALL_CAMERAS, day?: string): HourBucket[] {
    const series = this.series.get(cameraId);
    const buckets = [...((day === undefined ? series?.hours : series?.hoursByDay.get(day))?.values() ?? [])];
    return buckets.sort((a, b) => a.start - b.start).map(copyBucket);
  }

  /** The local day of an instant, as `YYYY-MM-DD`. */
  dayOf(at: number): string {
    // The local day changes at most once a minute: look it up only when the minute changes.
    const minute = Math.floor(at / MINUTE) * MINUTE;
    if (this.dayOfMinute.minute !== minute) this.dayOfMinute = { minute, day: this.clock.hourOf(at).day };
    return this.dayOfMinute.day;
  }

  footfallOn(day: string, cameraId = ALL_CAMERAS): number {
    return this.hours(cameraId, day).reduce((sum, b) => sum + b.footfall, 0);
  }

  /** A count kept where it applies, on `day`: footfall while the store was closed, or buying units. */
  extraOn(extra: ExtraCount, day: string, cameraId = ALL_CAMERAS): number {
    return this.hours(cameraId, day).reduce((sum, b) => sum + (b[extra] ?? 0), 0);
  }

  peak(cameraId = ALL_CAMERAS): { count: number; at: number | null } {
    return { ...(this.series.get(cameraId)?.peak ?? { count: 0, at: null }) };
  }

  peakOn(day: string, cameraId = ALL_CAMERAS): DayPeak | null {
    const peak = this.series.get(cameraId)?.days.get(day);
    return peak ? { ...peak } : null;
  }

  /** Every bucket of one series, e.g. for a consumer that must send all of them. */
  rows(seriesId: string): SeriesRows {
    const series = this.series.get(seriesId);
    return {
      minutes: this.minutes(seriesId),
      hours: this.hours(seriesId),
      days: [...(series?.days.values() ?? [])].sort((a, b) => a.day.localeCompare(b.day)).map((p) => ({ ...p })),
    };
  }

  /**
   * Opens a reader of the changes from now on, of every series or of those `follows` accepts; close it when done, or
   * it collects for as long as the collector lives.
   */
  followChanges(follows: (series: string) => boolean = () => true): ChangeReader {
    const reader = { follows, changed: new Map<string, ChangedKeys>() };
    const { changed } = reader;
    this.readers.add(reader);
    const rowsOf = (id: string, keys: ChangedKeys): SeriesRows => {
      const series = this.series.get(id)!;
      const pick = <K, T extends object>(wanted: Set<K>, from: Map<K, T>) => [...wanted].flatMap((key) => from.get(key) ?? []).map(copyBucket);
      return { minutes: pick(keys.minutes, series.minutes), hours: pick(keys.hours, series.hours), days: pick(keys.days, series.days) };
    };
    return {
      take: (id) => {
        const keys = changed.get(id);
        changed.delete(id);
        return keys ? rowsOf(id, keys) : { minutes: [], hours: [], days: [] };
      },
      takeAll: () => {
        const changes: MetricsChanges = { minutes: [], hours: [], days: [], removedBefore: this.retentionLimits(this.prunedMinute) };
        for (const [series, keys] of changed) {
          const rows = rowsOf(series, keys);
          changes.minutes.push(...rows.minutes.map((bucket) => ({ series, bucket })));
          changes.hours.push(...rows.hours.map((bucket) => ({ series, bucket })));
          changes.days.push(...rows.days.map((peak) => ({ series, peak })));
        }
        changed.clear();
        return changes;
      },
      close: () => {
        this.readers.delete(reader);
        changed.clear();
      },
    };
  }

  /** Restores persisted rows (on start-up): what is restored is no change for the readers. */
  restore(rows: { minutes: { series: string; bucket: MinuteBucket }[]; hours: { series: string; bucket: HourBucket }[]; days: { series: string; peak: DayPeak }[] }): void {
    for (const { series, bucket } of rows.minutes) this.seriesOf(series).minutes.set(bucket.start, copyBucket(bucket));
    for (const { series, bucket } of rows.hours) putHour(this.seriesOf(series), copyBucket(bucket));
    for (const { series, peak } of rows.days) {
      const s = this.seriesOf(series);
      s.days.set(peak.day, { ...peak });
      if (peak.peak > s.peak.count) s.peak = { count: peak.peak, at: peak.peakAt };
    }
  }

  private seriesOf(id: string): Series {
    let series = this.series.get(id);
    if (!series) {
      series = { minutes: new Map(), hours: new Map(), hoursByDay: new Map(), days: new Map(), peak: { count: 0, at: null }, occupancy: 0 };
      this.series.set(id, series);
    }
    return series;
  }

  private minute(id: string, series: Series, at: number): MinuteBucket {
    const start = Math.floor(at / MINUTE) * MINUTE;
    let bucket = series.minutes.get(start);
    if (!bucket) {
      bucket = { start, footfall: 0, occupancyMax: 0, occupancySum: 0, samples: 0 };
      series.minutes.set(start, bucket);
    }
    this.changed(id, 'minutes', start);
    return bucket;
  }

  /** The local hour bucket of `at`, marked changed. */
  private hour(id: string, series: Series, at: number): HourBucket {
    // An hour starts on a whole minute in every zone: look it up only when the minute changes.
    const minute = Math.floor(at / MINUTE) * MINUTE;
    if (this.hourOfMinute.minute !== minute) this.hourOfMinute = { minute, hour: this.clock.hourOf(minute) };
    const { key, day, start } = this.hourOfMinute.hour;
    let bucket = series.hours.get(key);
    if (!bucket) {
      bucket = { key, day, start, footfall: 0 };
      putHour(series, bucket);
    }
    this.changed(id, 'hours', key);
    return bucket;
  }

  /** Tells every open reader that a bucket of series `id` changed. */
  private changed<K extends keyof ChangedKeys>(id: string, kind: K, key: BucketKey<K>): void {
    for (const { follows, changed } of this.readers) {
      let keys = changed.get(id);
      if (!keys) {
        if (!follows(id)) continue;
        keys = { minutes: new Set(), hours: new Set(), days: new Set() };
        changed.set(id, keys);
      }
      (keys[kind] as Set<BucketKey<K>>).add(key);
    }
  }

  /** Tells every open reader that a bucket of series `id` is gone. */
  private dropped<K extends keyof ChangedKeys>(id: string, kind: K, key: BucketKey<K>): void {
    for (const { changed } of this.readers) (changed.get(id)?.[kind] as Set<BucketKey<K>> | undefined)?.delete(key);
  }

  private sample(id: string, series: Series, at: number, occupancy: number): void {
    const bucket = this.minute(id, series, at);
    bucket.occupancyMax = Math.max(bucket.occupancyMax, occupancy);
    bucket.occupancySum += occupancy;
    bucket.samples++;
    if (occupancy > series.peak.count) series.peak = { count: occupancy, at };
    const day = this.dayOf(at);
    const peak = series.days.get(day);
    if (!peak || occupancy > peak.peak) {
      series.days.set(day, { day, peak: occupancy, peakAt: at });
      this.changed(id, 'days', day);
    }
  }

  private retentionLimits(now: number): { minutes: number; hours: number } {
    return { minutes: now - this.options.minuteRetentionDays * DAY, hours: now - this.options.hourRetentionDays * DAY };
  }

  /** Drops buckets past retention, at most once a minute. */
  private prune(now: number): void {
    const minute = Math.floor(now / MINUTE) * MINUTE;
    if (minute <= this.prunedMinute) return;
    this.prunedMinute = minute;
    const limits = this.retentionLimits(minute);
    for (const [id, series] of this.series) {
      for (const start of series.minutes.keys()) {
        if (start >= limits.minutes) continue;
        series.minutes.delete(start);
        this.dropped(id, 'minutes', start);
      }
      for (const [key, bucket] of series.hours) {
        if (bucket.start >= limits.hours) continue;
        series.hours.delete(key);
        this.dropped(id, 'hours', key);
        const day = series.hoursByDay.get(bucket.day);
        day?.delete(key);
        if (day?.size === 0) series.hoursByDay.delete(bucket.day);
      }
      for (const [day, peak] of series.days) {
        if (peak.peakAt >= limits.hours) continue;
        series.days.delete(day);
        this.dropped(id, 'days', day);
      }
    }
  }
}
