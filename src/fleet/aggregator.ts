import type { Redis } from 'ioredis';
import { ALL_CAMERAS, type DayPeak, type MetricsCollector } from '../metrics/collector';
import { MINUTE } from '../metrics/local-time';
import type { FleetKeys } from './layout';
import { newer, readBucket, readCameraState, readFleetEvent, readLiveUpdate, type CameraState, type FleetEvent, type LiveUpdate } from './state';

/** A camera of the fleet as the aggregator knows it. */
export interface FleetCamera {
  state: CameraState;
  online: boolean;
}

/** The part of RedisConnection the aggregator uses. */
export interface FleetConnection {
  client: Redis;
  duplicate(options: { offlineQueue: boolean }): Redis;
  release(client: Redis): Promise<void>;
}

export interface AggregatorOptions {
  connection: FleetConnection;
  keys: FleetKeys;
  /** Names this aggregator's place in the events stream, so a restart resumes where it stopped. */
  name: string;
  /** Receives every camera's buckets; its all-cameras series is the fleet's. */
  collector: MetricsCollector;
  /** Fetches the frames and heatmaps workers share. */
  images: boolean;
  onCamera(camera: FleetCamera): void;
  /** `catchUp`: the event was published before this aggregator started (it was down or restarting). */
  onEvent(event: FleetEvent, catchUp: boolean): void;
  onImage(cameraId: string, kind: 'frame' | 'heatmap', image: Buffer, state: CameraState): void;
  /** Something in Redis that cannot be used (written by another program or version), or a failed Redis call. */
  onProblem(err: Error): void;
  now?: () => number;
}

/** Events read from the stream per call. */
const EVENT_BATCH = 500;
/** How long one read of the stream waits for new events (ms); also how soon a stop is noticed. */
const EVENT_BLOCK_MS = 1000;
const CHECK_INTERVAL_MS = 1000;
const PEAKS_INTERVAL_MS = 10_000;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * The central side of the fleet: every camera's latest state from Redis (loaded at start and after each
 * reconnection, then followed on the live channel), their time series in one collector, offline cameras found by
 * silence, and the events stream read from where this aggregator last stopped.
 */
export class FleetAggregator {
  private readonly cameras = new Map<string, FleetCamera & { heardAt: number }>();
  private readonly now: () => number;
  private readonly startedAt: number;
  private subscriber: Redis | null = null;
  private reader: Redis | null = null;
  private loaded = false;
  /** Live messages held while the keys are read after a (re)subscription; null while messages apply as they come. */
  private waiting: string[] | null = [];
  /** Subscriptions so far: a reading of the keys lets the held messages through only if begun after the latest. */
  private subscriptions = 0;
  private timers: NodeJS.Timeout[] = [];
  /** Loads the fleet from the keys as soon as the main connection can. */
  private loadWhenReady: () => void = () => {};
  private stopped = false;
  private occupancy = 0;
  private lastExpire = -Infinity;
  private savedPeak = '';
  private readonly conflicts = new Set<string>();
  private readonly figures = { updates: 0, events: 0, rejected: 0 };

  constructor(private readonly options: AggregatorOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
  }

  start(): void {
    const { connection, keys } = this.options;
    this.subscriber = connection.duplicate({ offlineQueue: true });
    this.subscriber.on('message', (_channel: string, json: string) => (this.waiting ? this.waiting.push(json) : this.receive(json)));
    const load = () => this.load().catch((err: Error) => this.options.onProblem(new Error(`loading the fleet from Redis failed: ${err.message}`)));
    this.loadWhenReady = () => {
      if (connection.client.status === 'ready') return void load();
      connection.client.off('ready', this.loadWhenReady);
      connection.client.once('ready', this.loadWhenReady);
    };
    // Subscribed at every (re)connection of the subscriber, then everything is read from the keys: what was
    // published before, or while it was away (Redis restarted, the network cut), is there; what comes from the
    // disconnection on waits for the load, so a state already read live cannot hide the buckets of those missed
    // (publications carry only the buckets that changed). Connection trouble is redis-config's to report; a refusal
    // on a working connection (an ACL without SUBSCRIBE) is ours.
    const subscriber = this.subscriber;
    subscriber.on('close', () => (this.waiting ??= []));
    subscriber.on('ready', () => {
      subscriber.subscribe(keys.channel).then(
        () => {
          this.subscriptions++;
          this.loadWhenReady();
        },
        (err: Error) => subscriber.status === 'ready' && this.options.onProblem(new Error(`subscribing to ${keys.channel} failed: ${err.message}`)),
      );
    });
    this.reader = connection.duplicate({ offlineQueue: false });
    void this.readEvents(this.reader);
    this.timers.push(setInterval(() => this.check(), CHECK_INTERVAL_MS), setInterval(() => this.savePeaks(), PEAKS_INTERVAL_MS));
    for (const timer of this.timers) timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.options.connection.client.off('ready', this.loadWhenReady);
    await this.savePeaks();
    await Promise.all([this.subscriber, this.reader].map((client) => client && this.options.connection.release(client)));
  }

  camera(cameraId: string): FleetCamera | undefined {
    const known = this.cameras.get(cameraId);
    return known && { state: known.state, online: known.online };
  }

  list(): FleetCamera[] {
    return [...this.cameras.values()].map(({ state, online }) => ({ state, online }));
  }

  stats(): { cameras: number; online: number; instances: number; updates: number; events: number; rejected: number } {
    const all = [...this.cameras.values()];
    return {
      cameras: all.length,
      online: all.filter((c) => c.online).length,
      instances: new Set(all.map((c) => c.state.instance)).size,
      ...this.figures,
    };
  }

  /** Everything Redis holds, each camera's state and buckets read together; newer states than what is known win. */
  private async load(): Promise<void> {
    const { keys } = this.options;
    const { client } = this.options.connection;
    const subscription = this.subscriptions;
    const states = await client.hgetall(keys.cameras);
    const ids = Object.keys(states);
    const reads = client.pipeline();
    for (const id of ids) reads.hgetall(keys.minutes(id)).hgetall(keys.hours(id)).hgetall(keys.days(id)).pttl(keys.live(id));
    reads.hgetall(keys.fleetPeaks);
    const results = (await reads.exec()) ?? [];
    const now = this.now();
    ids.forEach((id, i) => {
      const [minutes, hours, days, ttl] = results.slice(i * 4, i * 4 + 4).map(([err, value]) => (err ? null : value)) as [Record<string, string> | null, Record<string, string> | null, Record<string, string> | null, number | null];
      try {
        const state = readCameraState(JSON.parse(states[id]));
        const parse = <T>(hash: Record<string, string> | null, read: (v: unknown) => T | null) =>
          Object.values(hash ?? {}).flatMap((json) => {
            try {
              const value = read(JSON.parse(json));
              return value ? [value] : [];
            } catch {
              return [];
            }
          });
        const alive = typeof ttl === 'number' && ttl > 0;
        this.apply(
          { camera: state, minutes: parse(minutes, readBucket.minute), hours: parse(hours, readBucket.hour), days: parse(days, readBucket.day) },
          alive ? now - Math.max(0, state.offlineAfterMs - ttl) : -Infinity,
          alive,
        );
      } catch (err) {
        this.figures.rejected++;
        this.options.onProblem(new Error(`camera "${id}" in ${keys.cameras} is unusable: ${(err as Error).message}`));
      }
    });
    const peaks = results.at(-1)?.[1] as Record<string, string> | undefined;
    const fleetDays = Object.values(peaks ?? {}).flatMap((json) => {
      try {
        const peak = readBucket.day(JSON.parse(json));
        return peak ? [{ series: ALL_CAMERAS, peak }] : [];
      } catch {
        return [];
      }
    });
    this.options.collector.restore({ minutes: [], hours: [], days: fleetDays });
    this.loaded = true;
    if (this.waiting && subscription === this.subscriptions) {
      const waiting = this.waiting;
      this.waiting = null;
      for (const json of waiting) this.receive(json);
    }
  }

  private receive(json: string): void {
    try {
      this.apply(readLiveUpdate(json), this.now(), true);
    } catch (err) {
      this.figures.rejected++;
      this.options.onProblem(new Error(`a message on the live channel is unusable: ${(err as Error).message}`));
    }
  }

  /** A camera's state and buckets, unless an equal or newer state of it is already known. */
  private apply(update: LiveUpdate, heardAt: number, alive: boolean): void {
    const { camera: state } = update;
    const known = this.cameras.get(state.cameraId);
    if (known && !newer(state, known.state)) return;
    if (known && known.online && known.state.instance !== state.instance && !this.conflicts.has(state.cameraId)) {
      this.conflicts.add(state.cameraId);
      this.options.onProblem(new Error(`camera "${state.cameraId}" is published by both "${known.state.instance}" and "${state.instance}": give the cameras different ids (or turn on the instance prefix in fleet-publish)`));
    }
    this.figures.updates++;
    const wasOnline = known?.online ?? false;
    const online = alive && this.now() - heardAt <= state.offlineAfterMs;
    this.occupancy += (online ? state.occupancy : 0) - (wasOnline ? known!.state.occupancy : 0);
    const previous = known?.state;
    const entry = { state, online, heardAt };
    this.cameras.set(state.cameraId, entry);
    this.options.collector.setCamera(state.cameraId, update);
    this.options.collector.recordTotalOccupancy(this.now(), this.occupancy);
    this.options.onCamera({ state, online });
    if (this.options.images && online) this.fetchImages(state, previous);
  }

  private fetchImages(state: CameraState, previous: CameraState | undefined): void {
    const { keys } = this.options;
    const { client } = this.options.connection;
    const wanted: ['frame' | 'heatmap', string][] = [];
    if (state.frameAt !== null && state.frameAt !== previous?.frameAt) wanted.push(['frame', keys.frame(state.cameraId)]);
    if (state.heatmap && state.heatmap.at !== previous?.heatmap?.at) wanted.push(['heatmap', keys.heatmap(state.cameraId)]);
    for (const [kind, key] of wanted) {
      client.getBuffer(key).then(
        (image) => {
          if (image && image.length > 0) this.options.onImage(state.cameraId, kind, image, state);
        },
        (err: Error) => this.options.onProblem(new Error(`reading ${key} failed: ${err.message}`)),
      );
    }
  }

  /** Cameras silent for longer than their expiry go offline: kept with their totals, present counts zeroed. */
  private check(): void {
    const now = this.now();
    for (const camera of this.cameras.values()) {
      if (!camera.online || now - camera.heardAt <= camera.state.offlineAfterMs) continue;
      camera.online = false;
      this.occupancy -= camera.state.occupancy;
      this.options.collector.recordTotalOccupancy(now, this.occupancy);
      this.options.onCamera({ state: camera.state, online: false });
    }
    if (now - this.lastExpire >= MINUTE) {
      this.lastExpire = now;
      this.options.collector.expire(now);
    }
  }

  /** The fleet's peak occupancy of today, which no worker knows, is kept in Redis for the next aggregator. */
  private async savePeaks(): Promise<void> {
    const { collector, connection, keys } = this.options;
    const day = collector.dayOf(this.now());
    const peak: DayPeak | null = collector.peakOn(day, ALL_CAMERAS);
    if (!peak || !this.loaded) return;
    const json = JSON.stringify(peak);
    if (json === this.savedPeak) return;
    try {
      const saved = await connection.client.hget(keys.fleetPeaks, day);
      const stored = saved ? readBucket.day(JSON.parse(saved)) : null;
      if (!stored || stored.peak < peak.peak) await connection.client.hset(keys.fleetPeaks, day, json);
      this.savedPeak = json;
    } catch {
      // Redis is away: tried again in the next interval.
    }
  }

  /** The events stream from this aggregator's saved place (or from its start, the first time), for as long as it runs. */
  private async readEvents(reader: Redis): Promise<void> {
    const { keys } = this.options;
    const { client } = this.options.connection;
    let cursor: string | null = null;
    while (!this.stopped) {
      try {
        if (reader.status !== 'ready' || client.status !== 'ready') {
          await pause(250);
          continue;
        }
        // The first time, events from this aggregator's start on (stream ids begin with their time in ms).
        cursor ??= (await client.get(keys.cursor(this.options.name))) ?? `${this.startedAt}-0`;
        const reply = (await reader.xread('COUNT', EVENT_BATCH, 'BLOCK', EVENT_BLOCK_MS, 'STREAMS', keys.events, cursor)) as [string, [string, string[]][]][] | null;
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0 || this.stopped) continue;
        for (const [id, fields] of entries) {
          const json = fields[fields.indexOf('e') + 1];
          try {
            const event = readFleetEvent(json);
            this.figures.events++;
            this.options.onEvent(event, Number(id.split('-')[0]) < this.startedAt);
          } catch (err) {
            this.figures.rejected++;
            this.options.onProblem(new Error(`event ${id} in ${keys.events} is unusable: ${(err as Error).message}`));
          }
        }
        cursor = entries[entries.length - 1][0];
        await client.set(keys.cursor(this.options.name), cursor);
      } catch (err) {
        if (!this.stopped && !/Connection is closed|enableOfflineQueue|Stream isn't writeable/.test((err as Error).message)) this.options.onProblem(err as Error);
        await pause(500);
      }
    }
  }
}
