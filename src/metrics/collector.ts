import { DAY, LocalClock, MINUTE } from './local-time';

export const ALL_CAMERAS = '*';

export interface MinuteBucket {
  /** Start of the minute, ms since the epoch. */
  start: number;
  footfall: number;
  occupancyMax: number;
  occupancySum: number;
  samples: number;
}

export interface HourBucket {
  /** Local hour, e.g. `2026-11-28T14:00+01:00`. */
  key: string;
  day: string;
  start: number;
  footfall: number;
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
}

export const DEFAULT_METRICS_OPTIONS: MetricsOptions = { timeZone: 'UTC', minuteRetentionDays: 7, hourRetentionDays: 400 };

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

/**
 * Footfall and occupancy over time, per camera and for all cameras together (series `*`): one-minute buckets,
 * local-hour footfall buckets in the store's time zone, and peak occupancy per local day and overall. Old
 * buckets are dropped past their retention.
 */
export class MetricsCollector {
  readonly options: MetricsOptions;
  private readonly clock: LocalClock;
  private readonly series = new Map<string, Series>();
  private dirtyMinutes = new Set<string>();
  private dirtyHours = new Set<string>();
  private dirtyDays = new Set<string>();
  private dayOfMinute: { minute: number; day: string } = { minute: NaN, day: '' };
  private prunedMinute = -Infinity;

  constructor(options: Partial<MetricsOptions> = {}) {
    this.options = { ...DEFAULT_METRICS_OPTIONS, ...options };
    for (const key of ['minuteRetentionDays', 'hourRetentionDays'] as const) {
      if (!(this.options[key] > 0)) throw new RangeError(`${key} must be a positive number of days, got ${this.options[key]}`);
    }
    this.clock = new LocalClock(this.options.timeZone);
  }

  /** People who entered (footfall) at `at`, for one camera. */
  recordFootfall(cameraId: string, at: number, count = 1): void {
    if (cameraId === ALL_CAMERAS) throw new Error(`"${ALL_CAMERAS}" is reserved for all cameras together`);
    const hour = this.clock.hourOf(at);
    for (const id of [cameraId, ALL_CAMERAS]) {
      const series = this.seriesOf(id);
      this.minute(id, series, at).footfall += count;
      let bucket = series.hours.get(hour.key);
      if (!bucket) {
        bucket = { key: hour.key, day: hour.day, start: hour.start, footfall: 0 };
        putHour(series, bucket);
      }
      bucket.footfall += count;
      this.dirtyHours.add(`${id}\n${hour.key}`);
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
    for (const bucket of rows.minutes ?? []) {
      const change = bucket.footfall - (camera.minutes.get(bucket.start)?.footfall ?? 0);
      camera.minutes.set(bucket.start, { ...bucket });
      if (change !== 0) this.minute(ALL_CAMERAS, all, bucket.start).footfall += change;
    }
    for (const bucket of rows.hours ?? []) {
      const change = bucket.footfall - (camera.hours.get(bucket.key)?.footfall ?? 0);
      putHour(camera, { ...bucket });
      if (change === 0) continue;
      const total = all.hours.get(bucket.key) ?? { key: bucket.key, day: bucket.day, start: bucket.start, footfall: 0 };
      total.footfall += change;
      putHour(all, total);
      this.dirtyHours.add(`${ALL_CAMERAS}\n${bucket.key}`);
    }
    for (const peak of rows.days ?? []) {
      camera.days.set(peak.day, { ...peak });
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
    return buckets.sort((a, b) => a.start - b.start).map((b) => ({ ...b }));
  }

  hours(cameraId = ALL_CAMERAS, day?: string): HourBucket[] {
    const series = this.series.get(cameraId);
    const buckets = [...((day === undefined ? series?.hours : series?.hoursByDay.get(day))?.values() ?? [])];
    return buckets.sort((a, b) => a.start - b.start).map((b) => ({ ...b }));
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

  peak(cameraId = ALL_CAMERAS): { count: number; at: number | null } {
    return { ...(this.series.get(cameraId)?.peak ?? { count: 0, at: null }) };
  }

  peakOn(day: string, cameraId = ALL_CAMERAS): DayPeak | null {
    const peak = this.series.get(cameraId)?.days.get(day);
    return peak ? { ...peak } : null;
  }

  /** What changed since the last call, for persistence. */
  takeChanges(): MetricsChanges {
    const take = <T>(dirty: Set<string>, read: (series: Series, key: string) => T | undefined) =>
      [...dirty].flatMap((entry) => {
        const [series, key] = entry.split('\n');
        const value = this.series.get(series) && read(this.series.get(series)!, key);
        return value ? [{ series, value }] : [];
      });
    const changes: MetricsChanges = {
      minutes: take(this.dirtyMinutes, (s, k) => s.minutes.get(Number(k))).map(({ series, value }) => ({ series, bucket: { ...value } })),
      hours: take(this.dirtyHours, (s, k) => s.hours.get(k)).map(({ series, value }) => ({ series, bucket: { ...value } })),
      days: take(this.dirtyDays, (s, k) => s.days.get(k)).map(({ series, value }) => ({ series, peak: { ...value } })),
      removedBefore: this.retentionLimits(this.prunedMinute),
    };
    this.dirtyMinutes.clear();
    this.dirtyHours.clear();
    this.dirtyDays.clear();
    return changes;
  }

  /** Restores persisted rows (on start-up). */
  restore(rows: { minutes: { series: string; bucket: MinuteBucket }[]; hours: { series: string; bucket: HourBucket }[]; days: { series: string; peak: DayPeak }[] }): void {
    for (const { series, bucket } of rows.minutes) this.seriesOf(series).minutes.set(bucket.start, { ...bucket });
    for (const { series, bucket } of rows.hours) putHour(this.seriesOf(series), { ...bucket });
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
    this.dirtyMinutes.add(`${id}\n${start}`);
    return bucket;
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
      this.dirtyDays.add(`${id}\n${day}`);
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
    for (const series of this.series.values()) {
      for (const start of series.minutes.keys()) if (start < limits.minutes) series.minutes.delete(start);
      for (const [key, bucket] of series.hours) {
        if (bucket.start >= limits.hours) continue;
        series.hours.delete(key);
        const day = series.hoursByDay.get(bucket.day);
        day?.delete(key);
        if (day?.size === 0) series.hoursByDay.delete(bucket.day);
      }
      for (const [day, peak] of series.days) if (peak.peakAt < limits.hours) series.days.delete(day);
    }
  }
}
