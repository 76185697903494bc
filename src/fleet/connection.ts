import { Redis, type RedisOptions } from 'ioredis';

export interface RedisSettings {
  /** A host name, or a `redis://` / `rediss://` URL (whose port, database, login and TLS then apply). */
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
}

export type ConnectionPhase = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ConnectionStatus {
  phase: ConnectionPhase;
  /** The last error while not connected (wrong password, refused, timed out), cleared once connected. */
  error: string | null;
  /** Where the connection goes, for messages (never with the password). */
  address: string;
}

/** Reconnection delays: 0.5 s doubling up to 10 s, with jitter so a fleet does not come back in lockstep. */
export function reconnectDelay(attempt: number): number {
  return Math.min(500 * 2 ** Math.max(0, attempt - 1), 10_000) + Math.floor(Math.random() * 250);
}

/** ioredis options for our settings: bounded memory while Redis is away (no offline queue), reconnection for ever. */
export function redisOptions(settings: RedisSettings): { options: RedisOptions; address: string } {
  let { host, port, db, username, password, tls } = settings;
  if (/^rediss?:\/\//i.test(host)) {
    let url: URL;
    try {
      url = new URL(host);
    } catch {
      throw new Error(`"${host.replace(/\/\/[^@/]*@/, '//…@')}" is not a valid Redis URL; use e.g. redis://host:6379/0`);
    }
    tls = url.protocol === 'rediss:';
    host = url.hostname.replace(/^\[|\]$/g, '');
    port = url.port ? Number(url.port) : 6379;
    if (url.pathname.length > 1) db = Number(url.pathname.slice(1));
    if (url.username) username = decodeURIComponent(url.username);
    if (url.password) password = decodeURIComponent(url.password);
  }
  if (!host) throw new Error('the Redis host is empty');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`the Redis port must be 1 to 65535, got ${port}`);
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new Error(`the Redis database must be 0 to 15, got ${db}`);
  return {
    address: `${tls ? 'rediss' : 'redis'}://${host}:${port}/${db}`,
    options: {
      host,
      port,
      db,
      username: username || undefined,
      password: password || undefined,
      tls: tls ? {} : undefined,
      connectTimeout: 5000,
      retryStrategy: reconnectDelay,
      // Commands fail at once while Redis is away instead of piling up in memory; publishers keep what matters.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      lazyConnect: true,
    },
  };
}

/** A readable reason for a connection error (ioredis reports some as bare codes). */
export function describeRedisError(err: Error & { code?: string }): string {
  if (err.code === 'ECONNREFUSED') return `connection refused: ${err.message.replace(/^connect ECONNREFUSED /, '')}`;
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `host not found: ${err.message.replace(/^getaddrinfo \w+ /, '')}`;
  if (err.code === 'ETIMEDOUT' || /timed? ?out/i.test(err.message)) return 'connection timed out';
  if (/WRONGPASS|NOAUTH|invalid password|AUTH/i.test(err.message)) return `login refused: ${err.message}`;
  return err.message;
}

/**
 * One Redis connection and what state it is in, for the nodes sharing it. Subscribers and blocking readers need
 * connections of their own (Redis dedicates a connection to them): `duplicate()` gives one that reports through
 * the same status.
 */
export class RedisConnection {
  readonly client: Redis;
  readonly address: string;
  private current: ConnectionStatus;
  private readonly listeners = new Set<(status: ConnectionStatus) => void>();
  private readonly readyListeners = new Set<() => void>();
  private readonly extra = new Set<Redis>();

  constructor(private readonly settings: RedisSettings) {
    const { options, address } = redisOptions(settings);
    this.address = address;
    this.current = { phase: 'connecting', error: null, address };
    this.client = this.watch(new Redis(options), true);
    this.client.connect().catch(() => {
      // Reported through the 'error' event; ioredis keeps retrying.
    });
  }

  status(): ConnectionStatus {
    return { ...this.current };
  }

  /** Calls `listener` on every change of status, and now; returns the function that stops it. */
  onStatus(listener: (status: ConnectionStatus) => void): () => void {
    this.listeners.add(listener);
    listener(this.status());
    return () => this.listeners.delete(listener);
  }

  /** Calls `listener` whenever the main connection becomes ready (the first time and after every reconnection). */
  onReady(listener: () => void): () => void {
    this.readyListeners.add(listener);
    if (this.current.phase === 'connected') listener();
    return () => this.readyListeners.delete(listener);
  }

  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /** Another connection to the same server, for a subscriber or a blocking reader; closed with this one. */
  duplicate(options: { offlineQueue: boolean }): Redis {
    const { options: base } = redisOptions(this.settings);
    const client = this.watch(new Redis({ ...base, enableOfflineQueue: options.offlineQueue, maxRetriesPerRequest: null }), false);
    this.extra.add(client);
    client.connect().catch(() => {
      // Reported through the main connection's status; ioredis keeps retrying.
    });
    return client;
  }

  /** Closes a connection made by `duplicate`. */
  async release(client: Redis): Promise<void> {
    if (!this.extra.delete(client)) return;
    await client.quit().catch(() => client.disconnect());
  }

  async close(): Promise<void> {
    this.current = { ...this.current, phase: 'closed' };
    const all = [this.client, ...this.extra];
    this.extra.clear();
    await Promise.all(all.map((client) => client.quit().catch(() => client.disconnect())));
  }

  private watch(client: Redis, main: boolean): Redis {
    client.on('error', (err: Error) => {
      if (main && this.current.phase !== 'closed') this.set({ ...this.current, phase: this.current.phase === 'connected' ? 'reconnecting' : this.current.phase, error: describeRedisError(err) });
    });
    if (!main) return client;
    client.on('ready', () => {
      this.set({ phase: 'connected', error: null, address: this.address });
      for (const listener of this.readyListeners) listener();
    });
    client.on('reconnecting', () => {
      if (this.current.phase !== 'closed') this.set({ ...this.current, phase: 'reconnecting' });
    });
    return client;
  }

  private set(status: ConnectionStatus): void {
    const changed = status.phase !== this.current.phase || status.error !== this.current.error;
    this.current = status;
    if (changed) for (const listener of this.listeners) listener(this.status());
  }
}
