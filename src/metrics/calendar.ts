import { DAY, LocalClock, MINUTE } from './local-time';

export const WEEKDAY_KEYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAY_KEYS)[number];

/** A store's opening hours as users write them: `"09:00-20:00"`, several ranges `"09:00-12:30, 14:00-19:00"`, `""` closed. */
export interface CalendarSettings {
  hours: Partial<Record<Weekday, string>>;
  /** Days the store stays closed, `YYYY-MM-DD` (public holidays). */
  closedDays?: string[];
}

/** How an interval lies in opening hours. */
export type HoursCoverage = 'open' | 'closed' | 'partly';

/** An opening range in minutes of the local day; an `end` at or before `start` runs past midnight into the next day. */
interface Range {
  start: number;
  end: number;
}

/** Minutes scanned for a closing between two instants: past 8 days of gap, what was seen by then decides. */
const MAX_SCAN_MINUTES = 8 * 1440;

function parseTime(text: string, what: string): number {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  const minutes = match ? Number(match[1]) * 60 + Number(match[2]) : NaN;
  if (!match || Number(match[2]) > 59 || minutes > 1440) throw new RangeError(`${what}: "${text.trim()}" is not a time from 00:00 to 24:00`);
  return minutes;
}

/** One weekday's ranges, checked. */
function parseRanges(text: string, weekday: Weekday): Range[] {
  if (text.trim() === '') return [];
  return text.split(',').map((part) => {
    const [from, to, extra] = part.split('-');
    if (to === undefined || extra !== undefined) throw new RangeError(`opening hours of ${weekday}: "${part.trim()}" must be written HH:MM-HH:MM`);
    const start = parseTime(from, `opening hours of ${weekday}`);
    const end = parseTime(to, `opening hours of ${weekday}`);
    if (start === end) throw new RangeError(`opening hours of ${weekday}: "${part.trim()}" opens and closes at the same time`);
    return { start, end };
  });
}

/**
 * A store's opening hours in its time zone: whether it is open at an instant (to the minute), whether it closed
 * between two instants, and how an interval lies in its hours. Local times, so the days clocks change come out right.
 */
export class StoreCalendar {
  private readonly ranges: Range[][];
  private readonly closedDays: Set<string>;
  private readonly openByMinute = new Map<number, boolean>();

  constructor(
    settings: CalendarSettings,
    readonly clock: LocalClock,
  ) {
    if (typeof settings !== 'object' || settings === null || typeof settings.hours !== 'object' || settings.hours === null) {
      throw new RangeError('the store calendar needs "hours": {"mon": "09:00-20:00", ...}');
    }
    const unknown = Object.keys(settings.hours).find((key) => !WEEKDAY_KEYS.includes(key as Weekday));
    if (unknown) throw new RangeError(`opening hours: "${unknown}" is not a weekday (mon, tue, wed, thu, fri, sat, sun)`);
    this.ranges = WEEKDAY_KEYS.map((day) => {
      const text = settings.hours[day] ?? '';
      if (typeof text !== 'string') throw new RangeError(`opening hours of ${day} must be text such as "09:00-20:00"`);
      return parseRanges(text, day);
    });
    for (const day of settings.closedDays ?? []) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(day))) throw new RangeError(`closed day "${day}" must be a date written YYYY-MM-DD`);
    }
    this.closedDays = new Set(settings.closedDays ?? []);
  }

  /** Whether the store is open at `at` (its minute). */
  isOpen(at: number): boolean {
    const minute = Math.floor(at / MINUTE) * MINUTE;
    let open = this.openByMinute.get(minute);
    if (open === undefined) {
      open = this.openAt(minute);
      if (this.openByMinute.size >= 4096) this.openByMinute.clear();
      this.openByMinute.set(minute, open);
    }
    return open;
  }

  /** Whether the store was closed at some minute after `from` up to `to`: a closing came between them if it was open at `from`. */
  closedBetween(from: number, to: number): boolean {
    const first = Math.floor(from / MINUTE) * MINUTE + MINUTE;
    const last = Math.min(Math.floor(to / MINUTE) * MINUTE, first + MAX_SCAN_MINUTES * MINUTE);
    for (let minute = first; minute <= last; minute += MINUTE) if (!this.isOpen(minute)) return true;
    return false;
  }

  /** How the interval [start, end) lies in opening hours, minute by minute (an interval longer than a day: by its days). */
  coverage(start: number, end: number): HoursCoverage {
    const step = end - start > DAY ? 15 * MINUTE : MINUTE;
    let open = false;
    let closed = false;
    for (let minute = Math.floor(start / MINUTE) * MINUTE; minute < end; minute += step) {
      if (this.isOpen(minute)) open = true;
      else closed = true;
      if (open && closed) return 'partly';
    }
    return open ? 'open' : 'closed';
  }

  private openAt(at: number): boolean {
    const { day, weekday, minute } = this.clock.localMinute(at);
    if (!this.closedDays.has(day) && this.ranges[weekday].some((r) => (r.end > r.start ? minute >= r.start && minute < r.end : minute >= r.start))) return true;
    // The part after midnight of yesterday's ranges that run overnight.
    const yesterday = LocalClock.previousDay(day);
    return !this.closedDays.has(yesterday) && this.ranges[(weekday + 6) % 7].some((r) => r.end <= r.start && minute < r.end);
  }
}

/** The calendar in a canonical text, for nodes sharing a metrics database to agree on; null without one. */
export function calendarKey(settings: CalendarSettings | null): string | null {
  if (!settings) return null;
  const hours = Object.fromEntries(WEEKDAY_KEYS.map((day) => [day, (settings.hours[day] ?? '').replace(/\s+/g, '')]));
  return JSON.stringify({ hours, closedDays: [...(settings.closedDays ?? [])].sort() });
}
