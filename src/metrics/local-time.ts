export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** Local calendar positions of instants in one IANA time zone (the store's hours, not UTC). */
export class LocalClock {
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly timeZone: string) {
    try {
      this.format = new Intl.DateTimeFormat('en-CA', {
        timeZone,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
        hourCycle: 'h23',
        weekday: 'short',
        timeZoneName: 'longOffset',
      });
    } catch {
      throw new RangeError(`unknown time zone "${timeZone}": use an IANA name such as Europe/Paris or America/New_York`);
    }
  }

  /** The local calendar fields of an instant and its offset from UTC (`+01:00`). */
  private partsOf(at: number): Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'offset' | 'weekday', string> {
    const parts: Record<string, string> = {};
    for (const part of this.format.formatToParts(at)) parts[part.type] = part.value;
    parts.offset = parts.timeZoneName === 'GMT' ? '+00:00' : parts.timeZoneName.replace('GMT', '');
    return parts as Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'offset' | 'weekday', string>;
  }

  /** Where an instant falls on the local calendar: its day, weekday (0 Monday to 6 Sunday) and minute of the day. */
  localMinute(at: number): { day: string; weekday: number; minute: number } {
    const p = this.partsOf(at);
    return { day: `${p.year}-${p.month}-${p.day}`, weekday: WEEKDAYS.indexOf(p.weekday), minute: Number(p.hour) * 60 + Number(p.minute) };
  }

  /**
   * The local hour containing `at`: its key (`2026-03-29T01:00+01:00`, the offset keeping the two hours of a
   * clock change apart), its local day (`2026-03-29`) and when it started (ms since the epoch).
   */
  hourOf(at: number): { key: string; day: string; start: number } {
    const parts = this.partsOf(at);
    const day = `${parts.year}-${parts.month}-${parts.day}`;
    const start = at - (Number(parts.minute) * 60 + Number(parts.second)) * 1000 - (((at % 1000) + 1000) % 1000);
    return { key: `${day}T${parts.hour}:00${parts.offset}`, day, start };
  }

  /** An instant as ISO 8601 local time with its offset, to the second: `2026-10-25T02:00:00+01:00`. */
  iso(at: number): string {
    const p = this.partsOf(at);
    return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}${p.offset}`;
  }

  /**
   * When a local day (`YYYY-MM-DD`) begins: its first instant, midnight unless a clock change skips it. The end
   * of a day is the start of the next, so days of 23 and 25 hours come out as they are.
   */
  startOfDay(day: string): number {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) throw new RangeError(`a day must be written YYYY-MM-DD, got "${day}"`);
    const [year, month, date] = day.split('-').map(Number);
    // Every zone's midnight lies within 14 hours of UTC's; the local day only moves forward in that window.
    let before = Date.UTC(year, month - 1, date) - 15 * HOUR;
    let after = before + 30 * HOUR;
    while (after - before > MINUTE) {
      const middle = before + Math.floor((after - before) / 2 / MINUTE) * MINUTE;
      if (this.hourOf(middle).day < day) before = middle;
      else after = middle;
    }
    return after;
  }

  /** The local day before `day`. */
  static previousDay(day: string): string {
    const [year, month, date] = day.split('-').map(Number);
    return new Date(Date.UTC(year, month - 1, date - 1)).toISOString().slice(0, 10);
  }

  /** The local day after `day`. */
  static nextDay(day: string): string {
    const [year, month, date] = day.split('-').map(Number);
    return new Date(Date.UTC(year, month - 1, date + 1)).toISOString().slice(0, 10);
  }
}
