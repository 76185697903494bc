import type Database from 'better-sqlite3';
import { DAY, HOUR, LocalClock } from '../metrics/local-time';
import { SharedByFile } from '../shared-by-file';
import { openDatabase } from '../sqlite';
import type { Transaction } from './transactions';

export interface SalesHour {
  /** Local hour, keyed like the footfall hours (`2026-11-28T14:00+01:00`). */
  key: string;
  day: string;
  start: number;
  transactions: number;
  /** Transactions that gave an amount, and their sum. */
  withAmount: number;
  revenue: number;
}

export interface SalesOptions {
  timeZone: string;
  retentionDays: number;
  /** The camera whose footfall counts the store's visitors; empty for all cameras together. */
  footfallCamera: string;
  /** Visitors are people (footfall, the default), or the buying units among them when zone-analytics groups them. */
  visitors?: 'people' | 'units';
}

/**
 * Every sale in one SQLite table (the metrics database by default), deduplicated by the till's id, with
 * per-local-hour totals kept in memory for reports. Sales past retention are deleted.
 */
export class SalesLedger {
  private readonly db: Database.Database;
  private readonly clock: LocalClock;
  private readonly hours = new Map<string, SalesHour>();
  private prunedAt = -Infinity;

  constructor(readonly file: string, readonly options: SalesOptions) {
    if (!(options.retentionDays > 0)) throw new RangeError(`retentionDays must be a positive number of days, got ${options.retentionDays}`);
    this.clock = new LocalClock(options.timeZone);
    this.db = openDatabase(file, 'CREATE TABLE IF NOT EXISTS sales (id TEXT PRIMARY KEY, at INTEGER NOT NULL, amount REAL)', 'sales database');
    for (const row of this.db.prepare('SELECT at, amount FROM sales').iterate() as IterableIterator<{ at: number; amount: number | null }>) {
      this.count(row.at, row.amount);
    }
  }

  get timeZone(): string {
    return this.options.timeZone;
  }

  /** Records sales not seen before; all or nothing: every sale is checked (its local hour found) before any is written. */
  record(transactions: readonly Transaction[], now = Date.now()): { accepted: number; duplicates: number } {
    for (const t of transactions) this.clock.hourOf(t.at);
    const insert = this.db.prepare('INSERT OR IGNORE INTO sales (id, at, amount) VALUES (?, ?, ?)');
    const fresh = this.db.transaction(() => transactions.filter((t) => insert.run(t.id, Math.round(t.at), t.amount).changes === 1))();
    for (const t of fresh) this.count(t.at, t.amount);
    this.prune(now);
    return { accepted: fresh.length, duplicates: transactions.length - fresh.length };
  }

  /** Hour totals, oldest first; of one local day when given. */
  hoursOf(day?: string): SalesHour[] {
    return [...this.hours.values()].filter((h) => day === undefined || h.day === day).sort((a, b) => a.start - b.start).map((h) => ({ ...h }));
  }

  dayOf(at: number): string {
    return this.clock.hourOf(at).day;
  }

  close(): void {
    this.db.close();
  }

  private count(at: number, amount: number | null): void {
    const hour = this.clock.hourOf(at);
    let bucket = this.hours.get(hour.key);
    if (!bucket) {
      bucket = { key: hour.key, day: hour.day, start: hour.start, transactions: 0, withAmount: 0, revenue: 0 };
      this.hours.set(hour.key, bucket);
    }
    bucket.transactions++;
    if (amount !== null) {
      bucket.withAmount++;
      bucket.revenue += amount;
    }
  }

  /** Deletes sales past retention, at most once an hour. */
  private prune(now: number): void {
    if (now - this.prunedAt < HOUR) return;
    this.prunedAt = now;
    const limit = now - this.options.retentionDays * DAY;
    this.db.prepare('DELETE FROM sales WHERE at < ?').run(limit);
    for (const [key, bucket] of this.hours) if (bucket.start + HOUR <= limit) this.hours.delete(key);
  }
}

const databases = new SharedByFile<SalesLedger, SalesOptions>({
  create: (file, options) => new SalesLedger(file, options),
  close: (ledger) => ledger.close(),
  mismatch: (file, key, current) => new Error(`${file} already records sales with ${key} "${current[key]}"; nodes sharing a database need the same settings`),
});

export interface SharedSales {
  ledger: SalesLedger;
  release(): void;
}

/** One ledger per database file in this process, shared by the nodes that record sales and the API that reports them. */
export function acquireSales(file: string, options: SalesOptions): SharedSales {
  const held = databases.acquire(file, options);
  return { ledger: held.value, release: held.release };
}

/** The ledger already open for a database file, if a node records sales there; for readers such as the API. */
export function peekSales(file: string): SalesLedger | null {
  return databases.peek(file);
}
