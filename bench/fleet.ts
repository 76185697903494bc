/**
 * One aggregator fed by many cameras. A real redis-server and the aggregator as users run it (Node-RED with
 * examples/scale-out-aggregator.json, started like `npm start`); the workers are simulated in this process: each a
 * FleetPublisher of its own (its own connection) over a metrics store like zone-analytics', every camera changing
 * its counts once a second (so it publishes once a second), and 20 events a second across the fleet.
 *
 * Printed per fleet size: the aggregator process's CPU (share of one core, over a 20 s window in which nobody reads
 * its API), the messages per second it received, and the latency from a worker's publication to the new figure in
 * the aggregator's /api/stats (a probe camera's footfall, read every 10 ms; 60 probes in the 20 s after).
 * Usage: node dist/bench/fleet.js [camera counts, default 100,1000] [cameras per worker, default 10]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { RedisConnection } from '../src/fleet/connection';
import { fleetKeys } from '../src/fleet/layout';
import { FleetPublisher } from '../src/fleet/publisher';
import { MetricsCollector } from '../src/metrics/collector';
import { childOf } from '../test/node-red';
import { accepting } from '../test/support';

const ROOT = path.resolve(__dirname, '..', '..');
const WARM_UP_MS = 10_000;
const WINDOW_MS = 20_000;
const PROBES = 60;
const EVENTS_PER_SECOND = 20;
const CLOCK_TICKS = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startRedis(port: number): Promise<ChildProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-redis-'));
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  while (!(await accepting(port))) {
    if (redis.exitCode !== null) throw new Error('redis-server did not start: is it installed ("npm run setup")?');
    await sleep(50);
  }
  return redis;
}

/** CPU seconds a process has used (user + system). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

async function startAggregator(redisUrl: string, port: number): Promise<{ red: ChildProcess; pid: number; userDir: string }> {
  const userDir = mkdtempSync(path.join(tmpdir(), 'bench-fleet-'));
  const flowFile = path.join(userDir, 'import.json');
  writeFileSync(flowFile, readFileSync(path.join(ROOT, 'examples', 'scale-out-aggregator.json')));
  const env = { ...process.env, PORT: String(port), DEMO_USER_DIR: userDir, DEMO_FLOW_FILE: flowFile, REDIS_URL: redisUrl, INSTANCE_NAME: 'central' };
  const red = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  // Its start-up lines, then only the latest (a failing run could log without end).
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-65536));
  red.stdout!.on('data', keep);
  red.stderr!.on('data', keep);
  for (let waited = 0; !/Started flows/.test(output); waited += 100) {
    if (red.exitCode !== null || waited > 60_000) throw new Error(`Node-RED did not start:\n${output}`);
    await sleep(100);
  }
  // Node-RED is the child of scripts/demo.js.
  return { red, pid: childOf(red.pid!), userDir };
}

interface SimulatedWorker {
  connection: RedisConnection;
  publisher: FleetPublisher;
  collector: MetricsCollector;
  cameras: string[];
  entries: Map<string, number>;
}

function simulatedWorker(redisUrl: string, instance: string, cameras: number): SimulatedWorker {
  const collector = new MetricsCollector({ timeZone: 'UTC' });
  const connection = new RedisConnection({ host: redisUrl, port: 6379, db: 0, tls: false });
  const publisher = new FleetPublisher({
    redis: connection.client,
    keys: fleetKeys(),
    instance,
    prefixCameraIds: true,
    offlineAfterMs: 15_000,
    intervalMs: 1000,
    maxStreamLength: 10_000,
    maxPendingEvents: 10_000,
    metrics: () => collector,
    timeZone: () => 'UTC',
    describe: (id) => ({ name: id, state: 'running', fps: 10, width: 768, height: 576, lastFrameAt: Date.now(), detection: null }),
    frameIntervalMs: 0,
    frameJpeg: async () => null,
  });
  connection.onReady(() => publisher.reconnected());
  return { connection, publisher, collector, cameras: Array.from({ length: cameras }, (_, i) => `cam${i}`), entries: new Map() };
}

/** One person more through camera `id`'s door, as zone-analytics would report it. */
function enter(worker: SimulatedWorker, id: string, now: number): void {
  const entries = (worker.entries.get(id) ?? 0) + 1;
  worker.entries.set(id, entries);
  worker.collector.recordFootfall(id, now);
  worker.collector.recordOccupancy(id, now, entries % 5);
  worker.publisher.observe({
    cameraId: id,
    zones: [
      { id: 'door', name: 'Door', currentCount: entries % 5, totalEntries: entries, totalExits: entries - (entries % 5), avgDwellSeconds: 12.5, peakCount: 4, peakAt: now },
      { id: 'till', name: 'Till', currentCount: entries % 3, totalEntries: entries >> 1, totalExits: (entries >> 1) - (entries % 3), avgDwellSeconds: 40, peakCount: 3, peakAt: now },
    ],
    lines: [{ id: 'entrance', name: 'Entrance', in: entries, out: entries - (entries % 5) }],
    occupancy: entries % 5,
    geometry: null,
    seq: entries,
    activeTracks: entries % 5,
  });
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function run(cameraCount: number, perWorker: number, redisUrl: string, apiPort: number): Promise<string> {
  const aggregator = await startAggregator(redisUrl, apiPort);
  const workers = Array.from({ length: Math.ceil(cameraCount / perWorker) }, (_, i) => simulatedWorker(redisUrl, `sim${i}`, Math.min(perWorker, cameraCount - i * perWorker)));
  // The probe is a worker of its own with one camera, published only when a probe is taken.
  const probe = simulatedWorker(redisUrl, 'probe', 1);
  const probeId = probe.cameras[0];
  while (![...workers, probe].every((w) => w.connection.ready)) await sleep(50);
  let stopped = false;
  // Each camera's counts change once a second, spread over the second; 20 events a second over the fleet.
  const ticker = (async () => {
    for (let second = 0; !stopped; second++) {
      const started = Date.now();
      for (let slot = 0; slot < 10 && !stopped; slot++) {
        const now = Date.now();
        for (const worker of workers) worker.cameras.forEach((id, i) => i % 10 === slot && enter(worker, id, now));
        for (let e = 0; e < EVENTS_PER_SECOND / 10; e++) {
          const worker = workers[Math.floor(Math.random() * workers.length)];
          worker.publisher.event(worker.cameras[0], { type: 'enter', zoneId: 'door', trackId: second * 100 + slot * 10 + e, at: now });
        }
        await Promise.all(workers.map((w) => w.publisher.publish().catch(() => {})));
        await sleep(Math.max(0, started + (slot + 1) * 100 - Date.now()));
      }
    }
  })();
  const api = `http://127.0.0.1:${apiPort}/api`;
  const stats = async () => (await (await fetch(`${api}/stats`)).json()) as { cameras: Record<string, { footfallToday: number }> };
  enter(probe, probeId, Date.now());
  await probe.publisher.publish();
  while (Object.keys((await stats()).cameras).length < cameraCount + 1) await sleep(500);
  await sleep(WARM_UP_MS);

  const published = () => workers.reduce((sum, w) => sum + w.publisher.stats().published + w.publisher.stats().events, 0);
  const cpu0 = cpuSeconds(aggregator.pid);
  const messages0 = published();
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const seconds = (performance.now() - t0) / 1000;
  const cpuShare = (cpuSeconds(aggregator.pid) - cpu0) / seconds;
  const messagesPerSecond = (published() - messages0) / seconds;

  // Probes: the probe camera gets one person more and is published at once (a quarter-interval after its last).
  const latencies: number[] = [];
  for (let i = 0; i < PROBES; i++) {
    await sleep(260 + Math.random() * 100);
    enter(probe, probeId, Date.now());
    const expected = probe.collector.footfallOn(probe.collector.dayOf(Date.now()), probeId);
    const sent = performance.now();
    await probe.publisher.publish();
    while ((await stats()).cameras[`probe-${probeId}`]?.footfallToday !== expected) {
      if (performance.now() - sent > 5000) throw new Error('a probe did not reach /api/stats within 5 s');
      await sleep(10);
    }
    latencies.push(performance.now() - sent);
  }
  stopped = true;
  await ticker;
  latencies.sort((a, b) => a - b);
  await Promise.all([...workers, probe].map((w) => w.connection.close()));
  aggregator.red.kill('SIGINT');
  await new Promise((resolve) => aggregator.red.once('exit', resolve));
  rmSync(aggregator.userDir, { recursive: true, force: true });
  return `| ${cameraCount} (+1 probe) | ${workers.length} | ${(cpuShare * 100).toFixed(1)} % | ${messagesPerSecond.toFixed(0)} | ${quantile(latencies, 0.5).toFixed(0)} ms | ${quantile(latencies, 0.99).toFixed(0)} ms |`;
}

async function main(): Promise<void> {
  const counts = (process.argv[2] ?? '100,1000').split(',').map(Number);
  const perWorker = Number(process.argv[3] ?? 10);
  const redisPort = 24000 + Math.floor(Math.random() * 1000);
  const redis = await startRedis(redisPort);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  try {
    console.log('| cameras | workers | aggregator CPU (one core) | messages/s | publish → /api/stats p50 | p99 |');
    console.log('|---|---|---|---|---|---|');
    for (const count of counts) {
      const client = new RedisConnection({ host: redisUrl, port: 6379, db: 0, tls: false });
      while (!client.ready) await sleep(50);
      await client.client.flushall();
      await client.close();
      console.log(await run(count, perWorker, redisUrl, 18000 + Math.floor(Math.random() * 1000)));
    }
  } finally {
    redis.kill();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
