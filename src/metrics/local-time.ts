export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

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
        timeZoneName: 'longOffset',
      });
    } catch {
      throw new RangeError(`unknown time zone "${timeZone}": use an IANA name such as Europe/Paris or America/New_York`);
    }
  }

  /**
   * The local hour containing `at`: its key (`2026-03-29T01:00+01:00`, the offset keeping the two hours of a
   * clock change apart), its local day (`2026-03-29`) and when it started (ms since the epoch).
   */
  hourOf(at: number): { key: string; day: string; start: number } {
    const parts: Record<string, string> = {};
    for (const part of this.format.formatToParts(at)) parts[part.type] = part.value;
    const offset = parts.timeZoneName === 'GMT' ? '+00:00' : parts.timeZoneName.replace('GMT', '');
    const day = `${parts.year}-${parts.month}-${parts.day}`;
    const start = at - (Number(parts.minute) * 60 + Number(parts.second)) * 1000 - (((at % 1000) + 1000) % 1000);
    return { key: `${day}T${parts.hour}:00${offset}`, day, start };
  }
}
