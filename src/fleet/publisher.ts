import type { Redis } from 'ioredis';
import type { LineStats, ZoneGeometry, ZoneStats } from '../analytics/zones';
import { MINUTE } from '../metrics/local-time';
import type { ChangeReader, DayPeak, MetricsCollector } from '../metrics/collector';
import type { FleetKeys } from './layout';
import type { CameraDescription, CameraState, FleetEvent, LiveUpdate } from './state';

/** What zone-analytics said of a camera in its latest frame message. */
export interface ObservedFrame {
  cameraId: string;
  zones: ZoneStats[];
  lines: LineStats[];
  occupancy: number;
  geometry: ZoneGeometry | null;
  /** The frame's sequence number, so frames are counted once however often they pass. */
  seq: number | null;
  activeTracks: number;
}

export interface PublisherOptions {
  redis: Redis;
  keys: FleetKeys;
  instance: string;
  /** Published camera ids are `<instance>-<id>`, so workers running one flow do not collide. */
  prefixCameraIds: boolean;
  offlineAfterMs: number;
  /** A camera's state goes out at least this often (the heartbeat that keeps it online), and within a quarter of it after a change. */
  intervalMs: number;
  /** The events stream is trimmed to about this many entries. */
  maxStreamLength: number;
  /** Events kept while Redis is away; beyond this the oldest are dropped and counted. */
  maxPendingEvents: number;
  /** The footfall and occupancy series of this instance (zone-analytics' store), or null when it keeps none. */
  metrics: () => MetricsCollector | null;
  timeZone: () => string;
  describe: (cameraId: string) => CameraDescription;
  /** Shares each camera's annotated frame at most once per this many ms; 0 shares no frames. */
  frameIntervalMs: number;
  frameJpeg: (cameraId: string) => Promise<Buffer | null>;
  now?: () => number;
}

interface CameraEntry {
  localId: string;
  fleetId: string;
  frame: ObservedFrame;
  framesProcessed: number;
  lastSeq: number | null;
  /** Counters as last published, to publish soon after a change. */
  publishedKey: string;
  publishedAt: number;
  heatmap: { image: Buffer; format: 'png' | 'jpeg'; showsPeople: boolean; at: number; sent: boolean } | null;
  /** When its frame was last shared. */
  frameAt: number | null;
  /**
   * Every bucket goes out on the camera's first publication, after a reconnection or a failed round (Redis may have
   * lost them) and when the collector is another (a redeploy); otherwise those changed since it was last published.
   */
  needsFull: boolean;
}

/** A collector and this publisher's reader of its changes. */
interface Followed {
  collector: MetricsCollector;
  changes: ChangeReader;
}

export interface PublisherStats {
  cameras: number;
  published: number;
  events: number;
  pendingEvents: number;
  droppedEvents: number;
}

/** How often buckets past retention are deleted from Redis. */
const PRUNE_INTERVAL_MS = 10 * MINUTE;

/**
 * A worker's side of the fleet: the cameras passing through it published to Redis as cumulative state, the
 * latest state in keys (one with an expiry as the sign of life), time series in hashes, events in a stream,
 * all written in one transaction per round and announced on the live channel.
 */
export class FleetPublisher {
  private readonly cameras = new Map<string, CameraEntry>();
  private readonly epoch: number;
  private seq = 0;
  private pending: FleetEvent[] = [];
  private eventCounter = 0;
  private publishing = false;
  private lastPrune = -Infinity;
  private readonly figures = { published: 0, events: 0, droppedEvents: 0 };
  private readonly now: () => number;
  /** The collector whose buckets are published, and this publisher's reader of its changes. */
  private followed: Followed | null = null;

  constructor(private readonly options: PublisherOptions) {
    this.now = options.now ?? Date.now;
    this.epoch = this.now();
  }

  fleetId(localId: string): string {
    return this.options.prefixCameraIds ? `${this.options.instance}-${localId}` : localId;
  }

  /** Takes zone-analytics' latest figures of a camera. */
  observe(frame: ObservedFrame): void {
    let entry = this.cameras.get(frame.cameraId);
    if (!entry) {
      entry = { localId: frame.cameraId, fleetId: this.fleetId(frame.cameraId), frame, framesProcessed: 0, lastSeq: null, publishedKey: '', publishedAt: -Infinity, heatmap: null, frameAt: null, needsFull: true };
      this.cameras.set(frame.cameraId, entry);
    }
    if (frame.seq === null || frame.seq !== entry.lastSeq) entry.framesProcessed++;
    entry.lastSeq = frame.seq;
    entry.frame = frame;
  }

  /** Takes a camera's latest heatmap image, shared when frames are shared. */
  heatmap(cameraId: string, image: Buffer, format: 'png' | 'jpeg', showsPeople: boolean): void {
    const entry = this.cameras.get(cameraId);
    if (entry && this.options.frameIntervalMs > 0) entry.heatmap = { image, format, showsPeople, at: this.now(), sent: false };
  }

  /** Queues a zone-analytics event for the stream; the oldest are dropped beyond the bound while Redis is away. */
  event(cameraId: string, event: Record<string, unknown>): void {
    this.pending.push({
      ...event,
      eventId: typeof event.eventId === 'string' ? `${this.options.instance}:${event.eventId}` : `${this.options.instance}:${this.epoch}:${++this.eventCounter}`,
      instance: this.options.instance,
      cameraId: this.fleetId(cameraId),
      type: String(event.type ?? 'event'),
    });
    if (this.pending.length > this.options.maxPendingEvents) {
      const over = this.pending.length - this.options.maxPendingEvents;
      this.pending.splice(0, over);
      this.figures.droppedEvents += over;
    }
  }

  /** After a (re)connection Redis may have lost everything: the next round republishes every bucket. */
  reconnected(): void {
    for (const entry of this.cameras.values()) entry.needsFull = true;
  }

  /** Stops following the collector's changes; publishing again follows them anew. */
  close(): void {
    this.followed?.changes.close();
    this.followed = null;
  }

  stats(): PublisherStats {
    return { cameras: this.cameras.size, published: this.figures.published, events: this.figures.events, pendingEvents: this.pending.length, droppedEvents: this.figures.droppedEvents };
  }

  /** One round: the cameras due (changed, or silent for an interval), their frames when due, and the queued events. */
  async publish(): Promise<void> {
    if (this.publishing) return;
    this.publishing = true;
    try {
      await this.round();
    } finally {
      this.publishing = false;
    }
  }

  private async round(): Promise<void> {
    const { redis, keys, offlineAfterMs, intervalMs } = this.options;
    const now = this.now();
    const followed = this.follow();
    const multi = redis.multi();
    const published: CameraEntry[] = [];
    for (const entry of this.cameras.values()) {
      const key = countersKey(entry.frame);
      const full = entry.needsFull;
      const due = full || now - entry.publishedAt >= intervalMs || (key !== entry.publishedKey && now - entry.publishedAt >= intervalMs / 4);
      if (!due) continue;
      const frameDue = this.options.frameIntervalMs > 0 && now - (entry.frameAt ?? -Infinity) >= this.options.frameIntervalMs;
      const jpeg = frameDue ? await this.options.frameJpeg(entry.localId).catch(() => null) : null;
      if (jpeg) {
        entry.frameAt = now;
        multi.set(keys.frame(entry.fleetId), jpeg, 'PX', offlineAfterMs);
      }
      if (entry.heatmap && !entry.heatmap.sent) multi.set(keys.heatmap(entry.fleetId), entry.heatmap.image, 'PX', offlineAfterMs);
      const update = this.update(entry, followed, now, full);
      const state = JSON.stringify(update.camera);
      multi.hset(keys.cameras, entry.fleetId, state);
      multi.set(keys.live(entry.fleetId), this.options.instance, 'PX', offlineAfterMs);
      // One HSET per hash: a full republication holds a week of minutes.
      if (update.minutes.length > 0) multi.hset(keys.minutes(entry.fleetId), hashFields(update.minutes, (b) => b.start));
      if (update.hours.length > 0) multi.hset(keys.hours(entry.fleetId), hashFields(update.hours, (b) => b.start));
      if (update.days.length > 0) multi.hset(keys.days(entry.fleetId), hashFields(update.days, (p) => p.day));
      multi.publish(keys.channel, JSON.stringify(update));
      entry.publishedKey = key;
      entry.publishedAt = now;
      if (entry.heatmap) entry.heatmap.sent = true;
      published.push(entry);
    }
    const events = this.pending.slice();
    for (const event of events) multi.xadd(keys.events, 'MAXLEN', '~', String(this.options.maxStreamLength), '*', 'e', JSON.stringify(event));
    const pruneDue = followed !== null && now - this.lastPrune >= PRUNE_INTERVAL_MS;
    if (published.length === 0 && events.length === 0 && !pruneDue) return;
    const results = await multi.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) {
      // Cameras go out again next round, those of this round with every bucket (their changes were taken); the events
      // stay queued.
      for (const entry of this.cameras.values()) entry.publishedAt = -Infinity;
      for (const entry of published) entry.needsFull = true;
      throw failed?.[0] ?? new Error('the transaction was discarded');
    }
    this.pending.splice(0, events.length);
    for (const entry of published) entry.needsFull = false;
    this.figures.published += published.length;
    this.figures.events += events.length;
    if (pruneDue) {
      this.lastPrune = now;
      await this.prune(followed!.collector, now);
    }
  }

  /** The collector to publish from now; when it is another than before (a redeploy), every camera goes out in full. */
  private follow(): Followed | null {
    const collector = this.options.metrics();
    if (collector === (this.followed?.collector ?? null)) return this.followed;
    this.close();
    // Only the cameras seen here: a camera's first publication carries all its buckets anyway.
    if (collector) this.followed = { collector, changes: collector.followChanges((id) => this.cameras.has(id)) };
    for (const entry of this.cameras.values()) entry.needsFull = true;
    return this.followed;
  }

  private update(entry: CameraEntry, followed: Followed | null, now: number, full: boolean): LiveUpdate {
    const { frame } = entry;
    const described = this.options.describe(entry.localId);
    const camera: CameraState = {
      instance: this.options.instance,
      cameraId: entry.fleetId,
      epoch: this.epoch,
      seq: ++this.seq,
      publishedAt: now,
      offlineAfterMs: this.options.offlineAfterMs,
      timeZone: this.options.timeZone(),
      ...described,
      framesProcessed: entry.framesProcessed,
      activeTracks: frame.activeTracks,
      occupancy: frame.occupancy,
      zones: frame.zones,
      lines: frame.lines,
      geometry: frame.geometry,
      frameAt: entry.frameAt,
      heatmap: entry.heatmap ? { at: entry.heatmap.at, format: entry.heatmap.format, showsPeople: entry.heatmap.showsPeople } : null,
    };
    if (!followed) return { camera, minutes: [], hours: [], days: [] };
    // The buckets changed since the camera was last published, whatever their time: a frame's timestamp comes from
    // its camera, not this clock, and may be late, early or of another day.
    const changed = followed.changes.take(entry.localId);
    return { camera, ...(full ? followed.collector.rows(entry.localId) : changed) };
  }

  /** Deletes from Redis the buckets the worker's own store has dropped past retention. */
  private async prune(collector: MetricsCollector, now: number): Promise<void> {
    const { redis, keys } = this.options;
    const limits = { minutes: now - collector.options.minuteRetentionDays * 86_400_000, hours: now - collector.options.hourRetentionDays * 86_400_000 };
    for (const entry of this.cameras.values()) {
      for (const [key, limit] of [[keys.minutes(entry.fleetId), limits.minutes], [keys.hours(entry.fleetId), limits.hours]] as const) {
        const old = (await redis.hkeys(key)).filter((field) => Number(field) < limit);
        if (old.length > 0) await redis.hdel(key, ...old);
      }
      const days = await redis.hgetall(keys.days(entry.fleetId));
      const oldDays = Object.entries(days).filter(([, json]) => {
        try {
          return (JSON.parse(json) as DayPeak).peakAt < limits.hours;
        } catch {
          return true;
        }
      });
      if (oldDays.length > 0) await redis.hdel(keys.days(entry.fleetId), ...oldDays.map(([day]) => day));
    }
  }
}

/** Rows as the fields of a hash: each under its key, as JSON. */
function hashFields<T>(rows: T[], key: (row: T) => string | number): Record<string, string> {
  return Object.fromEntries(rows.map((row) => [String(key(row)), JSON.stringify(row)]));
}

/** The figures whose change is worth publishing before the next heartbeat. */
function countersKey(frame: ObservedFrame): string {
  let key = `${frame.occupancy}`;
  for (const z of frame.zones) key += `|${z.currentCount},${z.totalEntries},${z.totalExits}`;
  for (const l of frame.lines) key += `|${l.in},${l.out}`;
  return key;
}
