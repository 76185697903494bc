import { SharedByFile } from '../shared-by-file';
import { MetricsCollector, type ChangeReader, type MetricsOptions } from './collector';
import { MetricsStore } from './store';

export interface SharedMetrics {
  collector: MetricsCollector;
  store: MetricsStore | null;
  /** Writes what changed since the last flush. */
  flush(): void;
  /** Gives the metrics back; the last user flushes and closes the store. */
  release(): void;
}

type Opened = { collector: MetricsCollector; store: MetricsStore; changes: ChangeReader };

const flush = ({ store, changes }: Opened) => store.write(changes.takeAll());

const databases = new SharedByFile<Opened, MetricsOptions>({
  create(file, options) {
    const collector = new MetricsCollector(options);
    const store = new MetricsStore(file);
    collector.restore(store.read());
    return { collector, store, changes: collector.followChanges() };
  },
  release: flush,
  close: ({ store }) => store.close(),
  mismatch: (file, key, current) =>
    new Error(
      key === 'calendar'
        ? `${file} is already used with other opening hours (${current.calendar ?? 'no store calendar'}); nodes sharing a database need the same store calendar`
        : `${file} is already used with ${key} ${current[key]}; nodes sharing a database need the same time zone, retention and store calendar`,
    ),
});

/**
 * One collector per database file in this process, so every zone-analytics node writing to the same file
 * adds to the same totals (and aggregates across cameras). `file` null keeps the metrics in memory only, for
 * this user alone.
 */
export function acquireMetrics(file: string | null, given: Omit<MetricsOptions, 'calendar'> & Partial<Pick<MetricsOptions, 'calendar'>>): SharedMetrics {
  const options: MetricsOptions = { calendar: null, ...given };
  if (file === null) {
    return { collector: new MetricsCollector(options), store: null, flush: () => {}, release: () => {} };
  }
  const held = databases.acquire(file, options);
  const { collector, store } = held.value;
  return { collector, store, flush: () => flush(held.value), release: held.release };
}

/** The collector already open for a database file, if a zone-analytics node opened it; for readers such as the API. */
export function peekMetrics(file: string): MetricsCollector | null {
  return databases.peek(file)?.collector ?? null;
}
