import type { HoursCoverage } from './calendar';
import { ALL_CAMERAS, type CounterTallies, type MetricsCollector } from './collector';
import { HOUR, LocalClock, MINUTE } from './local-time';

export type ExportInterval = 'minute' | 'hour' | 'day';
export const EXPORT_INTERVALS: readonly ExportInterval[] = ['minute', 'hour', 'day'];

/** One counter of one camera over one interval; times are the store's local time with its offset. */
export interface ExportRow {
  start: string;
  end: string;
  camera: string;
  kind: 'zone' | 'line';
  counter: string;
  /** Entries of a zone, `in` crossings of a line. */
  in: number;
  /** Exits of a zone, `out` crossings of a line. */
  out: number;
  /** The mean dwell of the zone visits that ended in the interval; null for a line or when none ended. */
  avgDwellSeconds: number | null;
  /** The most people inside the zone at once; null for a line. */
  peakOccupancy: number | null;
  /** With a store calendar, whether the interval lies in opening hours: open, closed or partly; null without one. */
  hours: HoursCoverage | null;
}

export const EXPORT_COLUMNS = ['start', 'end', 'camera', 'kind', 'counter', 'in', 'out', 'avg_dwell_seconds', 'peak_occupancy', 'hours'] as const;

export interface ExportQuery {
  interval: ExportInterval;
  /** Intervals starting from here (ms since the epoch, inclusive) ... */
  from: number;
  /** ... and before this. */
  to: number;
  /** Only these cameras; all when absent. */
  cameras?: readonly string[];
}

/** Rows kept per export: a week of minutes for 100 counters, enough for any report, small enough to send. */
export const MAX_EXPORT_ROWS = 1_000_000;

/** An interval of one camera and its tallies. */
interface Span {
  start: number;
  end: number;
  counters: CounterTallies;
}

/** The spans of one camera: minute or hour buckets as they are, or hour buckets gathered into local days. */
function spansOf(collector: MetricsCollector, cameraId: string, interval: ExportInterval, from: number, to: number): Span[] {
  if (interval === 'minute') {
    return collector.minutes(cameraId, from, to).flatMap((b) => (b.counters ? [{ start: b.start, end: b.start + MINUTE, counters: b.counters }] : []));
  }
  const hours = collector.hours(cameraId).filter((b) => b.counters);
  if (interval === 'hour') return hours.map((b) => ({ start: b.start, end: b.start + HOUR, counters: b.counters! }));
  const days = new Map<string, Span>();
  for (const hour of hours) {
    let day = days.get(hour.day);
    if (!day) {
      day = { start: collector.clock.startOfDay(hour.day), end: collector.clock.startOfDay(LocalClock.nextDay(hour.day)), counters: {} };
      days.set(hour.day, day);
    }
    for (const [key, t] of Object.entries(hour.counters!)) {
      const sum = (day.counters[key] ??= { in: 0, out: 0, dwellSum: 0, peak: 0 });
      sum.in += t.in;
      sum.out += t.out;
      sum.dwellSum += t.dwellSum;
      if (t.staff) sum.staff = (sum.staff ?? 0) + t.staff;
      sum.peak = Math.max(sum.peak, t.peak);
    }
  }
  return [...days.values()];
}

/**
 * The counts of every zone and line per interval, from the collector's buckets: one row per interval the camera
 * ran and counter it counted with (zeros included), ordered by time, camera and counter. Over all of the retained
 * time the rows add up to the zone and line totals, which only change by the events these buckets record.
 */
export function exportRows(collector: MetricsCollector, query: ExportQuery): ExportRow[] {
  const rows: { at: number; row: ExportRow }[] = [];
  const cameras = (query.cameras ?? collector.cameras()).filter((id) => id !== ALL_CAMERAS).sort();
  for (const camera of cameras) {
    for (const span of spansOf(collector, camera, query.interval, query.from, query.to)) {
      if (span.start < query.from || span.start >= query.to) continue;
      const start = collector.clock.iso(span.start);
      const end = collector.clock.iso(span.end);
      const hours = collector.calendar?.coverage(span.start, span.end) ?? null;
      for (const key of Object.keys(span.counters).sort()) {
        const t = span.counters[key];
        const zone = key.startsWith('zone:');
        rows.push({
          at: span.start,
          row: {
            start,
            end,
            camera,
            kind: zone ? 'zone' : 'line',
            counter: key.slice(5),
            in: t.in,
            out: t.out,
            avgDwellSeconds: zone && t.out - (t.staff ?? 0) > 0 ? Math.round((t.dwellSum / (t.out - (t.staff ?? 0))) * 10) / 10 : null,
            peakOccupancy: zone ? t.peak : null,
            hours,
          },
        });
        if (rows.length > MAX_EXPORT_ROWS) throw new RangeError(`more than ${MAX_EXPORT_ROWS} rows: ask for a shorter time (from, to), a longer interval or one camera`);
      }
    }
  }
  // Each camera's rows are in time order already; a stable sort by instant interleaves the cameras.
  return rows.sort((a, b) => a.at - b.at).map(({ row }) => row);
}

/** A CSV field: quoted when it holds a comma, a quote or a line break; a leading =+-@ is defused for spreadsheets. */
function csvField(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The rows as CSV (RFC 4180, CRLF line ends) with a header line. */
export function toCsv(rows: readonly ExportRow[]): string {
  const lines = [EXPORT_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push([r.start, r.end, r.camera, r.kind, r.counter, r.in, r.out, r.avgDwellSeconds, r.peakOccupancy, r.hours].map(csvField).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * A `from` or `to` of the export: a local day (`2026-12-05`, its start), an ISO 8601 time with an offset or Z, or
 * milliseconds since the epoch.
 */
export function parseExportTime(value: string, clock: LocalClock, what: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return clock.startOfDay(value);
  if (/^\d{1,15}$/.test(value)) return Number(value);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    const at = Date.parse(value);
    if (Number.isFinite(at)) return at;
  }
  throw new RangeError(`${what} must be a day (2026-12-05), an ISO 8601 time with its offset (2026-12-05T09:00:00+01:00) or milliseconds since 1970, got "${value.slice(0, 60)}"`);
}
