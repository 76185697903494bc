import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Event-loop delay figures are over windows of this length; the last complete window is reported. */
const WINDOW_MS = 10_000;

export interface EventLoopDelay {
  p99Ms: number;
  maxMs: number;
  windowSeconds: number;
}

let histogram: IntervalHistogram | null = null;
let last: EventLoopDelay | null = null;

/**
 * How late the event loop ran timers over the last complete 10-second window (null during the first): what a
 * blocking computation in any node costs every other node of this Node-RED. Started on first use.
 */
export function eventLoopDelay(): EventLoopDelay | null {
  if (!histogram) {
    const monitor = monitorEventLoopDelay({ resolution: 10 });
    monitor.enable();
    histogram = monitor;
    setInterval(() => {
      last = { p99Ms: monitor.percentile(99) / 1e6, maxMs: monitor.max / 1e6, windowSeconds: WINDOW_MS / 1000 };
      monitor.reset();
    }, WINDOW_MS).unref();
  }
  return last;
}
