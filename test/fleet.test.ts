import { strict as assert } from 'node:assert';
import { Redis } from 'ioredis';
import type { ZoneStats } from '../src/analytics/zones';
import { FleetAggregator, type FleetCamera } from '../src/fleet/aggregator';
import { RedisConnection, type ConnectionStatus } from '../src/fleet/connection';
import { fleetKeys } from '../src/fleet/layout';
import { FleetPublisher } from '../src/fleet/publisher';
import type { FleetEvent } from '../src/fleet/state';
import { ALL_CAMERAS, MetricsCollector } from '../src/metrics/collector';
import { DAY, MINUTE } from '../src/metrics/local-time';
import { startRedis, stopAllRedis, type RedisServer } from './redis';
import { waitFor } from './support';

const KEYS = fleetKeys('test:');
/** The day the tests run (UTC), so that every retention keeps their data whatever the date. */
const DAY0 = new Date().toISOString().slice(0, 10);
const T0 = Date.parse(`${DAY0}T09:30:00Z`);
const dayAfter = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + DAY).toISOString().slice(0, 10);

/** A clock showing `at` now and running on from there; `set` moves it. */
function clockAt(at: number): { now: () => number; set(at: number): void } {
  let offset = at - Date.now();
  return { now: () => Date.now() + offset, set: (to) => void (offset = to - Date.now()) };
}

const zone = (entries: number, exits: number, present: number): ZoneStats => ({
  id: 'door', name: 'Door', currentCount: present, totalEntries: entries, totalExits: exits, avgDwellSeconds: null, peakCount: present, peakAt: null,
});

/** A worker without Node-RED: its own metrics store fed as zone-analytics feeds it, published through Redis. */
class Worker {
  readonly collector: MetricsCollector;
  readonly connection: RedisConnection;
  readonly publisher: FleetPublisher;
  private readonly stopReady: () => void;
  entries = new Map<string, number>();

  constructor(server: RedisServer, readonly instance: string, options: { offlineAfterMs?: number; now?: () => number; timeZone?: string } = {}) {
    const timeZone = options.timeZone ?? 'UTC';
    this.collector = new MetricsCollector({ timeZone });
    this.connection = new RedisConnection({ host: server.url, port: 6379, db: 0, tls: false });
    this.publisher = new FleetPublisher({
      redis: this.connection.client,
      keys: KEYS,
      instance,
      prefixCameraIds: true,
      offlineAfterMs: options.offlineAfterMs ?? 15000,
      intervalMs: 100,
      maxStreamLength: 1000,
      maxPendingEvents: 1000,
      metrics: () => this.collector,
      timeZone: () => timeZone,
      describe: (id) => ({ name: id, state: 'running', fps: 10, width: 768, height: 576, lastFrameAt: T0, detection: null }),
      frameIntervalMs: 0,
      frameJpeg: async () => null,
      now: options.now,
    });
    this.stopReady = this.connection.onReady(() => this.publisher.reconnected());
  }

  /** People entering through camera `id`'s door at `at`. */
  enter(id: string, at: number, people = 1): void {
    this.collector.recordFootfall(id, at, people);
    this.collector.recordOccupancy(id, at, people);
    this.entries.set(id, (this.entries.get(id) ?? 0) + people);
    const entries = this.entries.get(id)!;
    this.publisher.observe({ cameraId: id, zones: [zone(entries, entries - 1, 1)], lines: [{ id: 'in', name: 'In', in: entries, out: 0 }], occupancy: people, geometry: null, seq: entries, activeTracks: people });
  }

  /** A round of publication once the changes are due (a quarter of the 100 ms interval after the last). */
  async publish(): Promise<void> {
    await waitFor(() => this.connection.ready, 10000, `worker ${this.instance} connected`);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await this.publisher.publish();
  }

  async close(): Promise<void> {
    this.stopReady();
    await this.connection.close();
  }
}

class Central {
  readonly collector: MetricsCollector;
  readonly connection: RedisConnection;
  readonly aggregator: FleetAggregator;
  readonly cameras = new Map<string, FleetCamera>();
  readonly events: { event: FleetEvent; catchUp: boolean }[] = [];
  readonly problems: string[] = [];

  constructor(server: RedisServer, options: { name?: string; now?: () => number; timeZone?: string } = {}) {
    this.collector = new MetricsCollector({ timeZone: options.timeZone ?? 'UTC' });
    this.connection = new RedisConnection({ host: server.url, port: 6379, db: 0, tls: false });
    this.aggregator = new FleetAggregator({
      connection: this.connection,
      keys: KEYS,
      name: options.name ?? 'central',
      collector: this.collector,
      images: false,
      onCamera: (camera) => this.cameras.set(camera.state.cameraId, camera),
      onEvent: (event, catchUp) => this.events.push({ event, catchUp }),
      onImage: () => {},
      onProblem: (err) => this.problems.push(err.message),
      now: options.now,
    });
    this.aggregator.start();
  }

  footfall(cameraId = ALL_CAMERAS, day = DAY0): number {
    return this.collector.footfallOn(day, cameraId);
  }

  async close(): Promise<void> {
    await this.aggregator.stop();
    await this.connection.close();
  }
}

describe('fleet through Redis (src/fleet)', function () {
  this.timeout(60000);
  const open: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(thing: T): T => {
    open.push(thing);
    return thing;
  };
  /** A plain client, as another program would use Redis. */
  const client = (server: RedisServer): Redis => {
    const redis = new Redis(server.port, '127.0.0.1');
    open.push({ close: async () => void (await redis.quit()) });
    return redis;
  };

  afterEach(async () => {
    await Promise.all(open.splice(0).map((thing) => thing.close().catch(() => {})));
    await stopAllRedis();
  });

  it('the aggregate equals the workers\' own totals, however often, late or repeated a state arrives', async function () {
    const server = await startRedis(this);
    const w1 = track(new Worker(server, 'w1'));
    const w2 = track(new Worker(server, 'w2'));
    const central = track(new Central(server));
    w1.enter('door', T0, 2);
    w1.enter('till', T0 + 60_000);
    w2.enter('door', T0 + 3_600_000, 3);
    // An eavesdropper keeps the first publication of w1-door to deliver it again, late.
    const spy = client(server);
    const heard: string[] = [];
    spy.on('message', (_c: string, json: string) => heard.push(json));
    await spy.subscribe(KEYS.channel);
    await Promise.all([w1.publish(), w2.publish()]);
    await waitFor(() => central.cameras.size === 3 && central.footfall() === 6, 10000, 'three cameras with six people');
    w1.enter('door', T0 + 120_000);
    await w1.publish();
    await waitFor(() => central.footfall('w1-door') === 3, 10000, 'the next person at w1-door');

    const late = heard.find((json) => JSON.parse(json).camera.cameraId === 'w1-door')!;
    await spy.publish(KEYS.channel, late);
    await spy.publish(KEYS.channel, late);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(central.footfall('w1-door'), 3, 'a late state changes nothing');
    assert.equal(central.cameras.get('w1-door')!.state.zones[0].totalEntries, 3);

    // The same state published again (a retry) changes nothing either.
    await w1.publisher.publish();
    w1.publisher.reconnected();
    await w1.publisher.publish();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(central.footfall(), 7);
    assert.deepEqual(
      ['w1-door', 'w1-till', 'w2-door'].map((id) => central.footfall(id)),
      [w1.collector.footfallOn(DAY0, 'door'), w1.collector.footfallOn(DAY0, 'till'), w2.collector.footfallOn(DAY0, 'door')],
    );
    assert.deepEqual(central.collector.hours(ALL_CAMERAS).map((h) => [h.key, h.footfall]), [[`${DAY0}T09:00+00:00`, 4], [`${DAY0}T10:00+00:00`, 3]]);
    assert.deepEqual([...central.cameras.values()].map((c) => [c.state.cameraId, c.state.instance, c.online]).sort(), [['w1-door', 'w1', true], ['w1-till', 'w1', true], ['w2-door', 'w2', true]]);
    assert.deepEqual(central.problems, []);
  });

  it('a restarted aggregator gets totals and history back from Redis, and the events it missed, each once', async function () {
    const server = await startRedis(this);
    const worker = track(new Worker(server, 'w1'));
    worker.enter('door', T0, 2);
    worker.publisher.event('door', { type: 'enter', zoneId: 'door', trackId: 1, at: T0 });
    await worker.publish();

    const first = new Central(server);
    await waitFor(() => first.footfall() === 2, 10000, 'the first aggregator loaded the totals');
    worker.publisher.event('door', { type: 'exit', zoneId: 'door', trackId: 1, at: T0 + 5000 });
    await worker.publish();
    await waitFor(() => first.events.length === 1, 10000, 'the live event');
    assert.equal(first.events[0].event.type, 'exit');
    assert.equal(first.events[0].catchUp, false);
    await first.close();

    // While no aggregator runs, more people and events.
    worker.enter('door', T0 + 3_600_000, 4);
    for (let i = 2; i <= 4; i++) worker.publisher.event('door', { type: 'enter', zoneId: 'door', trackId: i, at: T0 + 3_600_000 });
    await worker.publish();
    await worker.close();

    const second = track(new Central(server));
    await waitFor(() => second.footfall() === 6 && second.events.length === 3, 10000, 'history and missed events back');
    assert.deepEqual(second.collector.hours('w1-door').map((h) => h.footfall), [2, 4]);
    assert.deepEqual(second.events.map(({ event, catchUp }) => [event.type, event.trackId, event.cameraId, catchUp]), [
      ['enter', 2, 'w1-door', true],
      ['enter', 3, 'w1-door', true],
      ['enter', 4, 'w1-door', true],
    ]);
    assert.equal(new Set(second.events.map((e) => e.event.eventId)).size, 3, 'event ids are unique');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(second.events.length, 3, 'nothing twice');
  });

  it('a worker before midnight and an aggregator already past it: every bucket counts on its own day, a late one too', async function () {
    const server = await startRedis(this);
    const midnight = Date.parse(`${DAY0}T00:00:00Z`) + DAY;
    const nextDay = dayAfter(DAY0);
    const workerClock = clockAt(midnight - 10_000);
    const centralClock = clockAt(midnight + 20_000);
    const worker = track(new Worker(server, 'w1', { now: workerClock.now }));
    const central = track(new Central(server, { now: centralClock.now }));
    worker.enter('door', midnight - 20_000, 2);
    await worker.publish();
    await waitFor(() => central.footfall() === 2, 10000, 'the worker\'s 23:59 bucket on its day');
    assert.equal(central.collector.dayOf(centralClock.now()), nextDay);
    assert.equal(central.footfall(ALL_CAMERAS, nextDay), 0);

    // Past midnight on the worker too: a person of the new day, then one of 23:59 whose frame comes minutes late
    // (frames carry their camera's timestamp, not the worker's clock).
    workerClock.set(midnight + 3 * MINUTE);
    worker.enter('door', midnight + 5_000);
    await worker.publish();
    worker.enter('door', midnight - 1_000);
    await worker.publish();
    await waitFor(() => central.footfall() === 3 && central.footfall(ALL_CAMERAS, nextDay) === 1, 10000, 'each day with its own people');
    assert.deepEqual(central.collector.minutes('w1-door'), worker.collector.minutes('door'));
    assert.deepEqual(central.collector.hours('w1-door'), worker.collector.hours('door'));
    assert.deepEqual(central.problems, []);
  });

  it('a store where the day has already changed (Pacific/Kiritimati, UTC+14) has its own hours and "today"', async function () {
    const server = await startRedis(this);
    const timeZone = 'Pacific/Kiritimati';
    // 10:00 UTC on the tests' day is midnight of the next day in Kiritimati.
    const midnight = Date.parse(`${DAY0}T10:00:00Z`);
    const nextDay = dayAfter(DAY0);
    const workerClock = clockAt(midnight + MINUTE);
    const centralClock = clockAt(midnight + 5 * MINUTE);
    const worker = track(new Worker(server, 'w1', { timeZone, now: workerClock.now }));
    const central = track(new Central(server, { timeZone, now: centralClock.now }));
    worker.enter('door', midnight - 30_000, 2);
    worker.enter('door', midnight + 30_000);
    await worker.publish();
    await waitFor(() => central.footfall(ALL_CAMERAS, nextDay) === 1, 10000, 'the new day\'s person');
    assert.equal(central.collector.dayOf(centralClock.now()), nextDay, 'today in Kiritimati is tomorrow in UTC');
    assert.equal(central.footfall(), 2, 'the day before keeps its people');
    assert.deepEqual(central.collector.hours('w1-door').map((h) => [h.key, h.footfall]), [[`${DAY0}T23:00+14:00`, 2], [`${nextDay}T00:00+14:00`, 1]]);
    assert.equal(central.cameras.get('w1-door')!.state.timeZone, timeZone);
    // Later that night, a person of the evening before whose frame comes late.
    workerClock.set(midnight + 10 * MINUTE);
    worker.enter('door', midnight - 10_000);
    await worker.publish();
    await waitFor(() => central.footfall() === 3, 10000, 'the late person on the day before');
    assert.deepEqual(central.collector.minutes('w1-door'), worker.collector.minutes('door'));
    assert.deepEqual(central.problems, []);
  });

  it('an aggregator whose subscription drops reads what it missed from the keys while the worker goes on publishing', async function () {
    const server = await startRedis(this);
    const worker = track(new Worker(server, 'w1'));
    const central = track(new Central(server));
    worker.enter('door', T0, 2);
    await worker.publish();
    await waitFor(() => central.footfall() === 2, 10000, 'counted');
    assert.equal(await client(server).call('CLIENT', 'KILL', 'TYPE', 'pubsub'), 1, 'the aggregator\'s subscriber cut off');
    // Unheard: a bucket's change, published once; then states without changed buckets, heard again once resubscribed.
    worker.enter('door', T0 + 60_000, 3);
    const until = Date.now() + 2000;
    while (Date.now() < until) await worker.publish();
    await waitFor(() => central.footfall() === 5, 10000, 'the unheard change read from the keys');
    assert.deepEqual(central.collector.minutes('w1-door'), worker.collector.minutes('door'));
    assert.deepEqual(central.problems, []);
  });

  it('a silent worker\'s cameras go offline after its expiry and keep their totals; back online when it publishes', async function () {
    const server = await startRedis(this);
    const worker = track(new Worker(server, 'w1', { offlineAfterMs: 2000 }));
    const central = track(new Central(server));
    worker.enter('door', T0, 2);
    await worker.publish();
    await waitFor(() => central.cameras.get('w1-door')?.online === true, 10000, 'online');
    const silentFrom = Date.now();
    await waitFor(() => central.cameras.get('w1-door')?.online === false, 10000, 'offline');
    const after = Date.now() - silentFrom;
    assert.ok(after >= 1500 && after <= 3500, `offline ${after} ms after the last publication (expiry 2000 ms, checked every second)`);
    assert.equal(central.footfall('w1-door'), 2, 'totals kept');
    assert.equal(central.aggregator.stats().online, 0);
    await worker.publish();
    await waitFor(() => central.cameras.get('w1-door')?.online === true, 10000, 'online again');
    assert.equal(central.footfall(), 2, 'nothing counted twice');
  });

  for (const persistence of [false, true]) {
    it(`Redis stopped for a while and started again ${persistence ? 'with' : 'without'} persistence: both sides reconnect and the totals agree again`, async function () {
      const server = await startRedis(this, { persistence });
      const worker = track(new Worker(server, 'w1'));
      const central = track(new Central(server));
      const phases: ConnectionStatus['phase'][] = [];
      worker.connection.onStatus((s) => phases.push(s.phase));
      worker.enter('door', T0, 2);
      worker.publisher.event('door', { type: 'enter', zoneId: 'door', trackId: 1, at: T0 });
      await worker.publish();
      await waitFor(() => central.footfall() === 2 && central.events.length === 1, 10000, 'counted before the outage');

      await server.stop();
      await waitFor(() => !worker.connection.ready, 5000, 'the worker notices');
      // Counting goes on while Redis is away; publishing fails without queueing states, events wait.
      worker.enter('door', T0 + 60_000, 3);
      worker.publisher.event('door', { type: 'enter', zoneId: 'door', trackId: 2, at: T0 + 60_000 });
      await assert.rejects(worker.publisher.publish());
      assert.equal(worker.publisher.stats().pendingEvents, 1);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await server.start();

      await worker.publish();
      await waitFor(() => central.footfall() === 5 && central.events.length === 2, 20000, 'counted after the outage');
      assert.ok(phases.includes('reconnecting') && phases.at(-1) === 'connected', `phases ${phases.join(' → ')}`);
      assert.equal(worker.publisher.stats().pendingEvents, 0);
      // Whatever Redis kept, it now holds the worker's whole state again: a new aggregator sees all of it.
      const fresh = track(new Central(server, { name: 'fresh' }));
      await waitFor(() => fresh.footfall() === 5, 10000, 'a new aggregator reads the totals');
      assert.deepEqual(fresh.collector.minutes('w1-door').map((m) => m.footfall), [2, 3]);
    });
  }

  it('says why it cannot connect (wrong password, nothing listening) and keeps trying', async function () {
    const server = await startRedis(this, { password: 'right' });
    const wrong = track(new RedisConnection({ host: '127.0.0.1', port: server.port, db: 0, password: 'wrong', tls: false }));
    await waitFor(() => wrong.status().error !== null, 10000, 'a login error');
    assert.match(wrong.status().error!, /login refused/);
    const nobody = track(new RedisConnection({ host: '127.0.0.1', port: 1, db: 0, tls: false }));
    await waitFor(() => nobody.status().error !== null, 10000, 'a connection error');
    assert.match(nobody.status().error!, /connection refused/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.notEqual(nobody.status().phase, 'closed', 'still retrying');
    const right = track(new RedisConnection({ host: `redis://:right@127.0.0.1:${server.port}/2`, port: 6379, db: 0, tls: false }));
    await waitFor(() => right.ready, 10000, 'the URL with the right password connects');
    assert.equal(right.address, `redis://127.0.0.1:${server.port}/2`, 'the address shown has no password');
  });

  it('reports what it cannot use in Redis and goes on with the rest', async function () {
    const server = await startRedis(this);
    const other = client(server);
    await other.hset(KEYS.cameras, 'broken', 'not json', 'odd', JSON.stringify({ cameraId: 'odd' }));
    const worker = track(new Worker(server, 'w1'));
    worker.enter('door', T0);
    await worker.publish();
    const central = track(new Central(server));
    await waitFor(() => central.footfall() === 1, 10000, 'the good camera');
    await other.publish(KEYS.channel, '{"camera": {"cameraId": 7}}');
    await other.publish(KEYS.channel, '[[[[');
    await other.xadd(KEYS.events, '*', 'e', '{"type": 1}');
    worker.publisher.event('door', { type: 'enter', zoneId: 'door', trackId: 1, at: T0 });
    await worker.publish();
    await waitFor(() => central.events.length === 1 && central.problems.length >= 5, 10000, 'the good event and five problems');
    assert.deepEqual(central.problems.map((p) => p.split(':')[0]).sort(), [
      'a message on the live channel is unusable',
      'a message on the live channel is unusable',
      'camera "broken" in test',
      'camera "odd" in test',
      `event ${central.problems.find((p) => p.startsWith('event'))!.split(' ')[1]} in test`,
    ].sort());
    assert.equal(central.cameras.size, 1);
  });
});
