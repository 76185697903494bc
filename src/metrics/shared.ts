import { MetricsCollector } from './collector';
import { MetricsStore } from './store';

export interface SharedMetrics {
  collector: MetricsCollector;
  store: MetricsStore | null;
  /** Writes what changed since the last flush. */
  flush(): void;
  /** Gives the metrics back; the last user flushes and closes the store. */
  release(): void;
}

interface Entry {
  collector: MetricsCollector;
  store: MetricsStore | null;
  users: number;
}

const open = new Map<string, Entry>();

/**
 * One collector per database file in this process, so every zone-analytics node writing to the same file
 * adds to the same totals (and aggregates across cameras). `file` null keeps the metrics in memory only.
 */
export function acquireMetrics(file: string | null, timeZone: string): SharedMetrics {
  const key = file ?? `memory:${open.size}:${Date.now()}:${Math.random()}`;
  let entry = open.get(key);
  if (entry && entry.collector.options.timeZone !== timeZone) {
    throw new Error(`${file} is already used with time zone ${entry.collector.options.timeZone}; nodes sharing a database need the same time zone`);
  }
  if (!entry) {
    const collector = new MetricsCollector({ timeZone });
    const store = file ? new MetricsStore(file) : null;
    if (store) collector.restore(store.read());
    entry = { collector, store, users: 0 };
    open.set(key, entry);
  }
  entry.users++;
  const current = entry;
  let released = false;
  const flush = () => current.store?.write(current.collector.takeChanges());
  return {
    collector: current.collector,
    store: current.store,
    flush,
    release() {
      if (released) return;
      released = true;
      flush();
      if (--current.users === 0) {
        current.store?.close();
        open.delete(key);
      }
    },
  };
}
