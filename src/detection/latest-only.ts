/**
 * Runs work per key (per camera) one item at a time and keeps at most one item waiting: when a newer item
 * arrives for a busy key, the waiting one is dropped. A slow model therefore sees the newest frame of each
 * camera instead of a queue that grows without bound.
 */
export class LatestOnlyScheduler<T> {
  private readonly busy = new Set<string>();
  private readonly waiting = new Map<string, T>();
  private droppedCount = 0;

  constructor(
    private readonly work: (item: T) => Promise<void>,
    private readonly onDropped: (item: T) => void,
  ) {}

  get dropped(): number {
    return this.droppedCount;
  }

  /** Items queued but not started, over all keys; never more than the number of keys. */
  get waitingCount(): number {
    return this.waiting.size;
  }

  submit(key: string, item: T): void {
    if (!this.busy.has(key)) {
      this.run(key, item);
      return;
    }
    const superseded = this.waiting.get(key);
    this.waiting.set(key, item);
    if (superseded !== undefined) {
      this.droppedCount++;
      this.onDropped(superseded);
    }
  }

  private run(key: string, item: T): void {
    this.busy.add(key);
    this.work(item)
      .catch(() => undefined)
      .finally(() => {
        this.busy.delete(key);
        const next = this.waiting.get(key);
        if (next !== undefined) {
          this.waiting.delete(key);
          this.run(key, next);
        }
      });
  }
}
