import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import WebSocket from 'ws';
import { startNodeRed, stopAllNodeRed, type RunningNodeRed } from './node-red';
import { startRedis, stopAllRedis, type RedisServer } from './redis';
import { ROOT, waitUntil } from './support';

/**
 * The scale-out examples as a user runs them: two worker Node-RED processes counting their own copy of the sample
 * camera (examples/scale-out-worker.json, told apart by INSTANCE_NAME) and an aggregator process
 * (examples/scale-out-aggregator.json), all on one real Redis.
 */

type ByHour = { hour: string; footfall: number }[];
type Stats = { day: string; total: { footfallToday: number; footfallByHour: ByHour }; cameras: Record<string, { footfallToday: number; footfallByHour: ByHour }> };
type Zones = { cameraId: string; zones: { id: string; totalEntries: number; totalExits: number }[]; lines: { id: string; in: number; out: number }[] }[];
type Health = { cameras: { id: string; instance: string | null; state: string }[]; instances: { name: string; cameras: number; online: number }[] };

const example = (name: string): unknown[] => JSON.parse(readFileSync(path.join(ROOT, 'examples', `${name}.json`), 'utf8'));

async function getJson<T>(red: RunningNodeRed, url: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${red.port}${url}`);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

const startWorker = (context: Mocha.Context, redis: string, instance: string, userDir?: string) =>
  startNodeRed(context, { flows: example('scale-out-worker'), env: { REDIS_URL: redis, INSTANCE_NAME: instance }, userDir });
const startAggregator = (context: Mocha.Context, redis: RedisServer) =>
  startNodeRed(context, { flows: example('scale-out-aggregator'), env: { REDIS_URL: redis.url, INSTANCE_NAME: 'central' } });

/** What a camera has counted: footfall today and by hour, each zone's entries and exits, each line's in and out. */
const countsOf = (stats: Stats, zones: Zones, id: string) => {
  const camera = zones.find((z) => z.cameraId === id);
  return {
    footfall: stats.cameras[id]?.footfallToday,
    byHour: stats.cameras[id]?.footfallByHour,
    zones: camera?.zones.map((z) => [z.id, z.totalEntries, z.totalExits]),
    lines: camera?.lines.map((l) => [l.id, l.in, l.out]),
  };
};

/**
 * Reads the aggregator and the workers until, in one round of reads, every worker has counted someone, every camera's
 * counts on the aggregator equal its worker's own and the fleet total equals their sum (counts move while people
 * walk: a round can straddle a change). Returns that round. A worker still at 0 would agree trivially, and its
 * totals could not be told kept from lost later.
 */
async function fleetAgrees(aggregator: RunningNodeRed, workers: Record<string, RunningNodeRed>, timeoutMs = 90000) {
  return waitUntil(
    async () => {
      const fleet = { stats: await getJson<Stats>(aggregator, '/api/stats'), zones: await getJson<Zones>(aggregator, '/api/zones') };
      const own = await Promise.all(Object.entries(workers).map(async ([instance, red]) => ({ instance, stats: await getJson<Stats>(red, '/api/stats'), zones: await getJson<Zones>(red, '/api/zones') })));
      return { fleet, own };
    },
    ({ fleet, own }) => {
      const sum = own.reduce((total, w) => total + w.stats.total.footfallToday, 0);
      return own.every((w) => w.stats.total.footfallToday > 0) && fleet.stats.total.footfallToday === sum && own.every((w) => JSON.stringify(countsOf(fleet.stats, fleet.zones, `${w.instance}-entrance`)) === JSON.stringify(countsOf(w.stats, w.zones, 'entrance')));
    },
    timeoutMs,
    'the fleet totals to equal the workers\' own',
  );
}

/** The status Node-RED shows under a node in the editor, as the editor receives it. */
async function nodeStatus(red: RunningNodeRed, nodeId: string, matching: RegExp, timeoutMs = 20000): Promise<string> {
  const comms = new WebSocket(`ws://127.0.0.1:${red.port}/comms`);
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no status of ${nodeId} matching ${matching} within ${timeoutMs} ms`)), timeoutMs);
      comms.on('open', () => comms.send(JSON.stringify({ subscribe: `status/${nodeId}` })));
      comms.on('message', (data) => {
        for (const { topic, data: status } of JSON.parse(String(data)) as { topic: string; data: { text?: string } }[]) {
          if (topic === `status/${nodeId}` && status?.text && matching.test(status.text)) {
            clearTimeout(timer);
            resolve(status.text);
          }
        }
      });
    });
  } finally {
    comms.close();
  }
}

describe('scale-out through Redis (examples/scale-out-*.json)', function () {
  this.timeout(420000);

  afterEach(async () => {
    await stopAllNodeRed();
    await stopAllRedis();
  });

  it('fleet totals equal the workers\' own; a killed worker goes offline keeping its totals and resumes; a restarted aggregator has it all back', async function () {
    const redis = await startRedis(this);
    let w1 = await startWorker(this, redis.url, 'w1');
    const w2 = await startWorker(this, redis.url, 'w2');
    let aggregator = await startAggregator(this, redis);
    const beforeKill = await fleetAgrees(aggregator, { w1, w2 });
    // The counts per interval travel with the rest: the aggregator's export has each worker's own, camera by camera.
    type Export = { rows: { camera: string; kind: string; counter: string; in: number; out: number }[] };
    const sums = (rows: Export['rows'], camera: string) => {
      const totals: Record<string, [number, number]> = {};
      for (const r of rows.filter((row) => row.camera === camera)) {
        const [countedIn, countedOut] = totals[`${r.kind}:${r.counter}`] ?? [0, 0];
        totals[`${r.kind}:${r.counter}`] = [countedIn + r.in, countedOut + r.out];
      }
      return JSON.stringify(totals);
    };
    const hourly = '/api/export?interval=hour&format=json';
    await waitUntil(
      async () => ({ fleet: await getJson<Export>(aggregator, hourly), own: [await getJson<Export>(w1, hourly), await getJson<Export>(w2, hourly)] }),
      ({ fleet, own }) => ['w1', 'w2'].every((w, i) => own[i].rows.some((r) => r.in > 0) && sums(fleet.rows, `${w}-entrance`) === sums(own[i].rows, 'entrance')),
      30000,
      "the aggregator's export to equal the workers' own",
    );
    const health = await getJson<Health>(aggregator, '/api/health');
    assert.deepEqual(health.cameras.map((c) => [c.id, c.instance, c.state]).sort(), [['w1-entrance', 'w1', 'running'], ['w2-entrance', 'w2', 'running']]);
    assert.deepEqual(health.instances.map((i) => [i.name, i.cameras, i.online]).sort(), [['w1', 1, 1], ['w2', 1, 1]]);
    const frame = await fetch(`http://127.0.0.1:${aggregator.port}/api/cameras/w1-entrance/frame`);
    assert.equal(frame.headers.get('content-type'), 'image/jpeg', 'the worker example shares frames (blurred)');

    // A crash: within the 15 s expiry (checked every second) the camera is offline, its totals stay.
    await w1.kill();
    const killedAt = Date.now();
    await waitUntil(() => getJson<Health>(aggregator, '/api/health'), (h) => h.cameras.find((c) => c.id === 'w1-entrance')?.state === 'offline', 20000, 'w1-entrance offline');
    const offlineAfter = (Date.now() - killedAt) / 1000;
    assert.ok(offlineAfter <= 17, `offline after ${offlineAfter} s`);
    const kept = await getJson<Stats>(aggregator, '/api/stats');
    // Footfall is today's: only a midnight since the agreement would start it again from 0.
    assert.ok(kept.cameras['w1-entrance'].footfallToday > 0 || kept.day !== beforeKill.fleet.stats.day, 'the dead worker\'s camera keeps its count');
    const w2Frames = async () => (await getJson<{ id: string; framesProcessed: number }[]>(aggregator, '/api/cameras')).find((c) => c.id === 'w2-entrance')!.framesProcessed;
    const before = await w2Frames();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.ok((await w2Frames()) > before, 'the other worker keeps counting');

    // Restarted with its own user directory (its counts come back from its own store): nothing counted twice.
    w1 = await startWorker(this, redis.url, 'w1', w1.userDir);
    await waitUntil(() => getJson<Health>(aggregator, '/api/health'), (h) => h.cameras.find((c) => c.id === 'w1-entrance')?.state === 'running', 30000, 'w1-entrance online again');
    await fleetAgrees(aggregator, { w1, w2 });

    // A new aggregator (its own fresh user directory, as on a new machine) reads totals and history from Redis.
    await aggregator.stop();
    aggregator = await startAggregator(this, redis);
    // Agreeing, every camera's footfall by hour equals its worker's own: the hourly history is back.
    await fleetAgrees(aggregator, { w1, w2 });
    for (const red of [w1, w2, aggregator]) assert.deepEqual(red.problems().filter((line) => !/unencrypted credentials|Projects disabled/.test(line)), [], red.output());
  });

  it('Redis stopped for 10 s, then started again with and then without its data: everyone reconnects, the local APIs keep working, totals agree again', async function () {
    const redis = await startRedis(this, { persistence: true });
    const w1 = await startWorker(this, redis.url, 'w1');
    const w2 = await startWorker(this, redis.url, 'w2');
    const aggregator = await startAggregator(this, redis);
    await fleetAgrees(aggregator, { w1, w2 });

    for (const empty of [false, true]) {
      await redis.stop();
      const stoppedAt = Date.now();
      await nodeStatus(w1, 'sw.publish', /refused|reconnecting|closed/i);
      while (Date.now() - stoppedAt < 10000) {
        // The local pipeline and API carry on while Redis is away.
        await getJson<Stats>(w1, '/api/stats');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      await redis.start({ empty });
      await nodeStatus(w1, 'sw.publish', /cameras as w1/);
      await fleetAgrees(aggregator, { w1, w2 });
    }
    // The example's Catch node prints what it caught to the log.
    for (const red of [w1, w2]) assert.match(red.output(), /\[debug:errors\][\s\S]*Redis redis:\/\/127\.0\.0\.1:\d+\/0: connection refused/, 'the outage reported to Catch nodes');
    assert.doesNotMatch(aggregator.output() + w1.output() + w2.output(), /Unhandled|uncaught|TypeError/i);
  });

  it('a wrong password or an unreachable host: a clear status and an error for Catch, retries, and the local pipeline keeps counting', async function () {
    const redis = await startRedis(this, { password: 'right' });
    const wrong = await startWorker(this, `redis://:wrong@127.0.0.1:${redis.port}`, 'w1');
    const nowhere = await startWorker(this, 'redis://127.0.0.1:1', 'w2');
    assert.match(await nodeStatus(wrong, 'sw.publish', /login refused/), /WRONGPASS|invalid/i);
    assert.match(await nodeStatus(nowhere, 'sw.publish', /connection refused/), /retrying/);
    // The example's Catch node prints what it caught to the log.
    assert.match(wrong.output(), /\[debug:errors\][\s\S]*Redis redis:\/\/127\.0\.0\.1:\d+\/0: login refused/);
    await waitUntil(() => getJson<Stats>(wrong, '/api/stats'), (s) => s.total.footfallToday > 0, 90000, 'the local pipeline counts');
    await waitUntil(() => getJson<Stats>(nowhere, '/api/stats'), (s) => s.total.footfallToday > 0, 90000, 'the local pipeline counts');
    assert.equal((wrong.output().match(/login refused/g) ?? []).length <= 2, true, 'reported once, not at every retry');
  });
});
