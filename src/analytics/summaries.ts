import type { MetricsCollector } from '../metrics/collector';
import { exportRows, type ExportRow } from '../metrics/export';
import { HOUR, MINUTE } from '../metrics/local-time';

export type SummaryInterval = 'minute' | 'hour';
export const SUMMARY_INTERVALS: readonly SummaryInterval[] = ['minute', 'hour'];

/** What one camera counted over one interval, sent once it can no longer change. */
export interface IntervalSummary {
  /** The same for every sending of the same interval (`<camera>/<interval>/<start>`): downstream drops repeats by it. */
  id: string;
  cameraId: string;
  interval: SummaryInterval;
  /** Local start and end with the store's offset. */
  start: string;
  end: string;
  /** People counted as footfall in the interval (in opening hours, with a store calendar) ... */
  footfall: number;
  /** ... and while the store was closed. */
  footfallOutsideHours: number;
  /** Buying units among the footfall; null when zone-analytics does not keep them. */
  buyingUnits: number | null;
  /** People recognised as staff in the interval (their footfall taken back). */
  staff: number;
  /** With a store calendar, whether the interval lies in opening hours: open, closed or partly; null without one. */
  hours: ExportRow['hours'];
  counters: Omit<ExportRow, 'start' | 'end' | 'camera' | 'hours'>[];
}

export interface SummaryOptions {
  interval: SummaryInterval;
  /**
   * Wait for each summary to be acknowledged (`acknowledge(id)`) before the next of its camera, sending it again
   * every `retrySeconds` until then; otherwise a summary counts as delivered once handed over.
   */
  acknowledge: boolean;
  retrySeconds: number;
  /**
   * How long after an interval ends its counts can still change: exits are dated when the person was last seen,
   * up to the track timeout and re-link time later.
   */
  settleSeconds: number;
  /** Whether buying units are kept, so that none in an interval reads 0 rather than null. */
  buyingUnits?: boolean;
}

/** A camera that stopped sending frames has its intervals closed by the clock this long after they settled. */
const STALLED_CAMERA_MS = 30_000;

interface CameraProgress {
  /** The end of the last interval delivered: what comes next starts here. */
  through: number;
  /** The camera time of the latest frame counted. */
  lastFrameAt: number;
  /** Frames of this camera have been counted since the start, so visits restored from a crash are in the buckets. */
  live: boolean;
  pending: { summary: IntervalSummary; end: number; sentAt: number; attempts: number } | null;
}

/**
 * Interval summaries with at-least-once delivery: each camera's intervals are handed out in order once settled,
 * from the collector's buckets, and how far delivery got (`progress`) is saved with the counts, so after a restart or
 * a crash the intervals not yet delivered go out (again, under the same id), and none is skipped.
 */
export class IntervalSummaries {
  private readonly cameras = new Map<string, CameraProgress>();
  private readonly length: number;

  constructor(
    private readonly collector: MetricsCollector,
    readonly options: SummaryOptions,
    saved: Record<string, unknown> = {},
  ) {
    if (!['minute', 'hour'].includes(options.interval)) throw new RangeError(`summaries are per minute or per hour, not "${options.interval}"`);
    if (!(options.retrySeconds >= 1)) throw new RangeError(`the retry time must be at least 1 second, got ${options.retrySeconds}`);
    this.length = options.interval === 'minute' ? MINUTE : HOUR;
    for (const [cameraId, value] of Object.entries(saved)) {
      const through = (value as { through?: unknown })?.through;
      if (typeof through === 'number' && Number.isFinite(through)) this.cameras.set(cameraId, { through, lastFrameAt: -Infinity, live: false, pending: null });
    }
  }

  /** A frame of a camera was counted, at camera time `at`. A camera never summarised starts with this interval. */
  counted(cameraId: string, at: number): void {
    let progress = this.cameras.get(cameraId);
    if (!progress) {
      progress = { through: this.intervalStart(at), lastFrameAt: at, live: true, pending: null };
      this.cameras.set(cameraId, progress);
    }
    progress.live = true;
    progress.lastFrameAt = Math.max(progress.lastFrameAt, at);
  }

  /** The summaries to send now (wall clock `now`): settled intervals not yet sent, and unacknowledged ones due again. */
  due(now: number): IntervalSummary[] {
    const out: IntervalSummary[] = [];
    for (const [cameraId, progress] of this.cameras) {
      if (!progress.live) continue;
      if (progress.pending) {
        if (now - progress.pending.sentAt < this.options.retrySeconds * 1000) continue;
        progress.pending.sentAt = now;
        progress.pending.attempts++;
        out.push(progress.pending.summary);
        continue;
      }
      const settled = Math.max(progress.lastFrameAt, now - STALLED_CAMERA_MS) - this.options.settleSeconds * 1000;
      if (settled < progress.through + this.length) continue;
      for (const { start, summary } of this.settled(cameraId, progress.through, settled)) {
        out.push(summary);
        if (this.options.acknowledge) {
          progress.pending = { summary, end: start + this.length, sentAt: now, attempts: 1 };
          break;
        }
        progress.through = start + this.length;
      }
      // Settled intervals without counts (the camera was off) have nothing to send, now or later.
      if (!progress.pending) progress.through = Math.max(progress.through, this.intervalStart(settled));
    }
    return out;
  }

  /** Delivery of summary `id` confirmed; false when no summary of that id waits (already confirmed, or unknown). */
  acknowledge(id: string): boolean {
    for (const progress of this.cameras.values()) {
      if (progress.pending?.summary.id !== id) continue;
      progress.through = progress.pending.end;
      progress.pending = null;
      return true;
    }
    return false;
  }

  /** Summaries sent and waiting for their acknowledgement. */
  waiting(): number {
    let count = 0;
    for (const progress of this.cameras.values()) if (progress.pending) count++;
    return count;
  }

  /** How far delivery got per camera, to save with the counts it summarises. */
  progress(): Record<string, { through: number }> {
    return Object.fromEntries([...this.cameras].map(([cameraId, { through }]) => [cameraId, { through }]));
  }

  private intervalStart(at: number): number {
    if (this.options.interval === 'minute') return Math.floor(at / MINUTE) * MINUTE;
    return this.collector.clock.hourOf(at).start;
  }

  /** The intervals of a camera with counts, starting from `from`, that ended by `settled`, in order. */
  private settled(cameraId: string, from: number, settled: number): { start: number; summary: IntervalSummary }[] {
    const buckets = this.options.interval === 'minute' ? this.collector.minutes(cameraId, from, settled) : this.collector.hours(cameraId).filter((b) => b.start >= from);
    return buckets
      .filter((b) => b.counters && b.start + this.length <= settled)
      .map((b) => {
        const rows = exportRows(this.collector, { interval: this.options.interval, from: b.start, to: b.start + 1, cameras: [cameraId] });
        const start = this.collector.clock.iso(b.start);
        return {
          start: b.start,
          summary: {
            id: `${cameraId}/${this.options.interval}/${start}`,
            cameraId,
            interval: this.options.interval,
            start,
            end: this.collector.clock.iso(b.start + this.length),
            footfall: b.footfall,
            footfallOutsideHours: b.outsideHours ?? 0,
            buyingUnits: this.options.buyingUnits ? (b.units ?? 0) : null,
            staff: b.staff ?? 0,
            hours: this.collector.calendar?.coverage(b.start, b.start + this.length) ?? null,
            counters: rows.map(({ start: _start, end: _end, camera: _camera, hours: _hours, ...counter }) => counter),
          },
        };
      });
  }
}
