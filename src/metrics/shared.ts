import { MetricsCollector, type MetricsOptions } from './collector';
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
 * adds to the same totals (and aggregates across cameras). `file` null keeps the metrics in memory only, for
 * this user alone.
 */
export function acquireMetrics(file: string | null, options: MetricsOptions): SharedMetrics {
  let entry = file ? open.get(file) : undefined;
  if (entry) {
    const current = entry.collector.options;
    const differs = (Object.keys(options) as (keyof MetricsOptions)[]).find((key) => current[key] !== options[key]);
    if (differs) {
      throw new Error(`${file} is already used with ${differs} ${current[differs]}; nodes sharing a database need the same time zone and retention`);
    }
  } else {
    const collector = new MetricsCollector(options);
    const store = file ? new MetricsStore(file) : null;
    if (store) collector.restore(store.read());
    entry = { collector, store, users: 0 };
    if (file) open.set(file, entry);
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
        if (file) open.delete(file);
      }
    },
  };
}

/** The collector already open for a database file, if a zone-analytics node opened it; for readers such as the API. */
export function peekMetrics(file: string): MetricsCollector | null {
  return open.get(file)?.collector ?? null;
}
