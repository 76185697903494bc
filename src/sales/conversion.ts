import { ALL_CAMERAS, type MetricsCollector } from '../metrics/collector';
import { DAY } from '../metrics/local-time';
import type { SalesLedger } from './ledger';

export interface ConversionFigures {
  /** Visitors: people who came in (the footfall camera's entries), or buying units with `visitors: units`. */
  footfall: number;
  transactions: number;
  /** Transactions ÷ footfall; null without footfall. */
  conversionRate: number | null;
  /** Sum of the amounts given; null when no transaction had one. */
  revenue: number | null;
  /** Revenue ÷ transactions that gave an amount. */
  averageBasket: number | null;
  /** Revenue ÷ footfall: what the average visitor spent. */
  basketPerVisitor: number | null;
}

export interface ConversionReport {
  day: string;
  timeZone: string;
  /** Whose footfall: a camera id, or `*` for all cameras together. */
  footfallCamera: string;
  /** What a visitor is: a person, or a buying unit. */
  visitors: 'people' | 'units';
  /** False when no zone-analytics node counts footfall into this database: footfall reads 0. */
  footfallCounted: boolean;
  total: ConversionFigures;
  hours: (ConversionFigures & { hour: string; start: number })[];
  /** The day and the six before it, oldest first. */
  days: (ConversionFigures & { day: string })[];
}

function figures(footfall: number, transactions: number, withAmount: number, revenue: number): ConversionFigures {
  const spent = withAmount > 0 ? revenue : null;
  return {
    footfall,
    transactions,
    conversionRate: footfall > 0 ? transactions / footfall : null,
    revenue: spent,
    averageBasket: spent === null ? null : spent / withAmount,
    basketPerVisitor: spent === null || footfall === 0 ? null : spent / footfall,
  };
}

function previousDays(day: string, count: number): string[] {
  const noon = Date.parse(`${day}T12:00:00Z`);
  return Array.from({ length: count }, (_, i) => new Date(noon - (count - 1 - i) * DAY).toISOString().slice(0, 10));
}

/**
 * Sales joined with footfall hour by hour (both keyed by local hour in the same time zone): conversion rate,
 * average basket and spend per visitor for one local day, its hours and the week up to it.
 */
export function conversionReport(sales: SalesLedger, footfall: MetricsCollector | null, day: string): ConversionReport {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00Z`))) throw new Error(`day must be a date such as 2026-11-28, got "${day}"`);
  if (footfall && footfall.options.timeZone !== sales.timeZone) {
    throw new Error(`footfall is counted in ${footfall.options.timeZone} but sales in ${sales.timeZone}: give both nodes the same time zone`);
  }
  const camera = sales.options.footfallCamera || ALL_CAMERAS;
  const days = previousDays(day, 7);
  const footfallHours = footfall ? footfall.hours(camera).filter((h) => days.includes(h.day)) : [];
  const salesHours = sales.hoursOf().filter((h) => days.includes(h.day));

  const hours = new Map<string, { day: string; start: number; footfall: number; transactions: number; withAmount: number; revenue: number }>();
  const hourOf = (key: string, hourDay: string, start: number) => {
    let hour = hours.get(key);
    if (!hour) {
      hour = { day: hourDay, start, footfall: 0, transactions: 0, withAmount: 0, revenue: 0 };
      hours.set(key, hour);
    }
    return hour;
  };
  const visitors = sales.options.visitors ?? 'people';
  for (const h of footfallHours) hourOf(h.key, h.day, h.start).footfall += visitors === 'units' ? (h.units ?? 0) : h.footfall;
  for (const h of salesHours) {
    const hour = hourOf(h.key, h.day, h.start);
    hour.transactions += h.transactions;
    hour.withAmount += h.withAmount;
    hour.revenue += h.revenue;
  }

  const sum = (wanted: string) => {
    const t = { footfall: 0, transactions: 0, withAmount: 0, revenue: 0 };
    for (const h of hours.values()) {
      if (h.day !== wanted) continue;
      t.footfall += h.footfall;
      t.transactions += h.transactions;
      t.withAmount += h.withAmount;
      t.revenue += h.revenue;
    }
    return figures(t.footfall, t.transactions, t.withAmount, t.revenue);
  };
  return {
    day,
    timeZone: sales.timeZone,
    footfallCamera: camera,
    visitors,
    footfallCounted: footfall !== null,
    total: sum(day),
    hours: [...hours.entries()]
      .filter(([, h]) => h.day === day)
      .sort(([, a], [, b]) => a.start - b.start)
      .map(([key, h]) => ({ hour: key, start: h.start, ...figures(h.footfall, h.transactions, h.withAmount, h.revenue) })),
    days: days.map((d) => ({ day: d, ...sum(d) })),
  };
}
