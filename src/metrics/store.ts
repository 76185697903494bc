import type Database from 'better-sqlite3';
import { openDatabase } from '../sqlite';
import type { CounterTallies, DayPeak, HourBucket, MetricsChanges, MinuteBucket } from './collector';

/**
 * The embedded store: one SQLite file (WAL mode) under Node-RED's user directory. Time series and counters
 * survive restarts and redeploys; writes are batched into one transaction per flush.
 */
export class MetricsStore {
  private readonly db: Database.Database;

  constructor(readonly file: string) {
    this.db = openDatabase(
      file,
      `
        CREATE TABLE IF NOT EXISTS minutes (series TEXT NOT NULL, start INTEGER NOT NULL, footfall INTEGER NOT NULL,
          occupancy_max INTEGER NOT NULL, occupancy_sum REAL NOT NULL, samples INTEGER NOT NULL, counters TEXT, outside_hours INTEGER, units INTEGER, staff INTEGER, PRIMARY KEY (series, start));
        CREATE TABLE IF NOT EXISTS hours (series TEXT NOT NULL, key TEXT NOT NULL, day TEXT NOT NULL, start INTEGER NOT NULL,
          footfall INTEGER NOT NULL, counters TEXT, outside_hours INTEGER, units INTEGER, staff INTEGER, PRIMARY KEY (series, key));
        CREATE TABLE IF NOT EXISTS days (series TEXT NOT NULL, day TEXT NOT NULL, peak INTEGER NOT NULL, peak_at INTEGER NOT NULL,
          PRIMARY KEY (series, day));
        CREATE TABLE IF NOT EXISTS counters (scope TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (scope, id));
      `,
      'metrics database',
    );
    // Databases made before counters per interval, the store calendar, buying units and staff get the columns; their older rows have none.
    for (const table of ['minutes', 'hours']) {
      const columns = new Set((this.db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name));
      for (const [column, type] of [['counters', 'TEXT'], ['outside_hours', 'INTEGER'], ['units', 'INTEGER'], ['staff', 'INTEGER']]) {
        if (!columns.has(column)) this.db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
      }
    }
  }

  /** Runs `write` in one transaction: what it writes is all kept or, if the process dies, none of it. */
  atomically(write: () => void): void {
    this.db.transaction(write)();
  }

  write(changes: MetricsChanges): void {
    const minute = this.db.prepare(
      'INSERT OR REPLACE INTO minutes (series, start, footfall, occupancy_max, occupancy_sum, samples, counters, outside_hours, units, staff) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const hour = this.db.prepare('INSERT OR REPLACE INTO hours (series, key, day, start, footfall, counters, outside_hours, units, staff) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const tallies = (counters: CounterTallies | undefined) => (counters ? JSON.stringify(counters) : null);
    const day = this.db.prepare('INSERT OR REPLACE INTO days (series, day, peak, peak_at) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const { series, bucket: b } of changes.minutes) minute.run(series, b.start, b.footfall, b.occupancyMax, b.occupancySum, b.samples, tallies(b.counters), b.outsideHours ?? null, b.units ?? null, b.staff ?? null);
      for (const { series, bucket: b } of changes.hours) hour.run(series, b.key, b.day, b.start, b.footfall, tallies(b.counters), b.outsideHours ?? null, b.units ?? null, b.staff ?? null);
      for (const { series, peak: p } of changes.days) day.run(series, p.day, p.peak, p.peakAt);
      if (Number.isFinite(changes.removedBefore.minutes)) this.db.prepare('DELETE FROM minutes WHERE start < ?').run(changes.removedBefore.minutes);
      if (Number.isFinite(changes.removedBefore.hours)) {
        this.db.prepare('DELETE FROM hours WHERE start < ?').run(changes.removedBefore.hours);
        this.db.prepare('DELETE FROM days WHERE peak_at < ?').run(changes.removedBefore.hours);
      }
    })();
  }

  read(): { minutes: { series: string; bucket: MinuteBucket }[]; hours: { series: string; bucket: HourBucket }[]; days: { series: string; peak: DayPeak }[] } {
    type MinuteRow = { series: string; start: number; footfall: number; occupancy_max: number; occupancy_sum: number; samples: number; counters: string | null; outside_hours: number | null; units: number | null; staff: number | null };
    type HourRow = { series: string; key: string; day: string; start: number; footfall: number; counters: string | null; outside_hours: number | null; units: number | null; staff: number | null };
    const extras = (r: { counters: string | null; outside_hours: number | null; units: number | null; staff: number | null }) => ({
      ...(r.counters === null ? {} : { counters: JSON.parse(r.counters) as CounterTallies }),
      ...(r.outside_hours === null ? {} : { outsideHours: r.outside_hours }),
      ...(r.units === null ? {} : { units: r.units }),
      ...(r.staff === null ? {} : { staff: r.staff }),
    });
    type DayRow = { series: string; day: string; peak: number; peak_at: number };
    return {
      minutes: (this.db.prepare('SELECT * FROM minutes').all() as MinuteRow[]).map((r) => ({
        series: r.series,
        bucket: { start: r.start, footfall: r.footfall, occupancyMax: r.occupancy_max, occupancySum: r.occupancy_sum, samples: r.samples, ...extras(r) },
      })),
      hours: (this.db.prepare('SELECT * FROM hours').all() as HourRow[]).map((r) => ({
        series: r.series,
        bucket: { key: r.key, day: r.day, start: r.start, footfall: r.footfall, ...extras(r) },
      })),
      days: (this.db.prepare('SELECT * FROM days').all() as DayRow[]).map((r) => ({ series: r.series, peak: { day: r.day, peak: r.peak, peakAt: r.peak_at } })),
    };
  }

  /** JSON counters (zone totals, line counts) under a scope such as a node id. */
  saveCounters(scope: string, entries: Record<string, unknown>): void {
    const put = this.db.prepare('INSERT OR REPLACE INTO counters (scope, id, data) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const [id, data] of Object.entries(entries)) put.run(scope, id, JSON.stringify(data));
    })();
  }

  loadCounters(scope: string): Record<string, unknown> {
    const rows = this.db.prepare('SELECT id, data FROM counters WHERE scope = ?').all(scope) as { id: string; data: string }[];
    return Object.fromEntries(rows.map((r) => [r.id, JSON.parse(r.data)]));
  }

  close(): void {
    this.db.close();
  }
}
