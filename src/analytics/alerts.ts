/** What a zone alert watches: the people inside, or (queue zones) the estimated wait in seconds. */
export type AlertMeasure = 'occupancy' | 'wait';

/** A zone's alert as written in the layout (`"alert": {...}`). */
export interface AlertConfig {
  /** Raised when the measure reaches this ... */
  above: number;
  /** ... and cleared when it falls below this (default 80 % of `above`): the gap keeps a flickering count quiet. */
  clearBelow?: number;
  measure?: AlertMeasure;
  /** How long the measure must stay at or above `above` before the alert is raised (default 2 s): one stray box is no crowd. */
  forSeconds?: number;
  /** The least time between two raisings of this alert (default 300 s); a raising due sooner waits for it. */
  cooldownSeconds?: number;
}

export interface AlertRule {
  above: number;
  clearBelow: number;
  measure: AlertMeasure;
  forSeconds: number;
  cooldownSeconds: number;
}

export interface AlertChange {
  state: 'raised' | 'cleared';
  measure: AlertMeasure;
  value: number;
  /** `above` for a raising, `clearBelow` for a clearing. */
  threshold: number;
  at: number;
}

/** What the zone's statistics say of its alert. */
export interface AlertState {
  active: boolean;
  measure: AlertMeasure;
  above: number;
  /** When the alert was raised, while it is active. */
  since: number | null;
}

/** Checks an alert as users write it in a layout, with the defaults filled in; says exactly what is wrong. */
export function alertRule(config: unknown, zoneId: string, queue: boolean): AlertRule {
  const fail = (problem: string): never => {
    throw new Error(`zone "${zoneId}": alert ${problem}`);
  };
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return fail('must be an object {"above": N, ...}');
  const c = config as Record<string, unknown>;
  const number = (key: string, fallback: number) => {
    const value = c[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(`"${key}" must be a number from 0, got ${JSON.stringify(c[key])}`);
    return value as number;
  };
  const measure = c.measure ?? 'occupancy';
  if (measure !== 'occupancy' && measure !== 'wait') return fail(`"measure" must be "occupancy" or "wait", got ${JSON.stringify(measure)}`);
  if (measure === 'wait' && !queue) fail('on the wait needs a queue zone ("queue": true)');
  if (c.above === undefined) fail('needs "above": the value that raises it');
  const above = number('above', 0);
  if (!(above > 0)) fail('"above" must be above 0');
  const clearBelow = number('clearBelow', above * 0.8);
  if (!(clearBelow < above)) fail(`"clearBelow" (${clearBelow}) must be below "above" (${above})`);
  return { above, clearBelow, measure, forSeconds: number('forSeconds', 2), cooldownSeconds: number('cooldownSeconds', 300) };
}

/**
 * One zone's alert: raised once the measure has stayed at or above `above` for `forSeconds` (and `cooldownSeconds`
 * have passed since it was last raised), cleared when the measure falls below `clearBelow`.
 */
export class ZoneAlert {
  private active = false;
  private since: number | null = null;
  /** Since when the measure has been at or above `above`, while it is. */
  private highSince: number | null = null;
  private lastRaisedAt = -Infinity;

  constructor(readonly rule: AlertRule) {}

  /** The measure at `at`; returns the change it makes, if any. */
  update(value: number, at: number): AlertChange | null {
    const { above, clearBelow, measure, forSeconds, cooldownSeconds } = this.rule;
    if (this.active) {
      if (value >= clearBelow) return null;
      this.active = false;
      this.since = null;
      this.highSince = null;
      return { state: 'cleared', measure, value, threshold: clearBelow, at };
    }
    if (value < above) {
      this.highSince = null;
      return null;
    }
    this.highSince ??= at;
    if (at - this.highSince < forSeconds * 1000 || at - this.lastRaisedAt < cooldownSeconds * 1000) return null;
    this.active = true;
    this.since = at;
    this.lastRaisedAt = at;
    return { state: 'raised', measure, value, threshold: above, at };
  }

  state(): AlertState {
    return { active: this.active, measure: this.rule.measure, above: this.rule.above, since: this.since };
  }
}
