import { constants, monitorEventLoopDelay, PerformanceObserver, type IntervalHistogram } from 'node:perf_hooks';

/** Event-loop delay figures are over windows of this length; the last complete window is reported. */
const WINDOW_MS = 10_000;

export interface EventLoopDelay {
  p99Ms: number;
  maxMs: number;
  /** Milliseconds per second the main thread spent collecting garbage, and full collections per second. */
  gcMsPerSecond: number;
  majorGcPerSecond: number;
  windowSeconds: number;
}

let histogram: IntervalHistogram | null = null;
let last: EventLoopDelay | null = null;

/**
 * How late the event loop ran timers over the last complete 10-second window (null during the first): what a
 * blocking computation in any node costs every other node of this Node-RED; and the garbage collection behind
 * part of it. Started on first use.
 */
export function eventLoopDelay(): EventLoopDelay | null {
  if (!histogram) {
    const monitor = monitorEventLoopDelay({ resolution: 10 });
    monitor.enable();
    histogram = monitor;
    // Frames are megabytes each: their garbage is what most often holds the event loop up on a busy box.
    let gcMs = 0;
    let majorGcs = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        gcMs += entry.duration;
        if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorGcs++;
      }
    }).observe({ entryTypes: ['gc'] });
    setInterval(() => {
      const seconds = WINDOW_MS / 1000;
      last = { p99Ms: monitor.percentile(99) / 1e6, maxMs: monitor.max / 1e6, gcMsPerSecond: gcMs / seconds, majorGcPerSecond: majorGcs / seconds, windowSeconds: seconds };
      monitor.reset();
      gcMs = 0;
      majorGcs = 0;
    }, WINDOW_MS).unref();
  }
  return last;
}
