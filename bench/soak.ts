/**
 * Weeks of a store box, compressed: the demo flow (examples/dashboard.json) and the multi-camera example run side by
 * side in two Node-RED processes (as `npm start` runs them) for N minutes, with FFmpeg processes killed (SIGKILL, as
 * the OOM killer would) and full redeploys sprinkled in. Every 10 s each instance is sampled: the Node-RED process's
 * RSS (and its FFmpeg children's apart), camera and detection frame rates and the event-loop delay (p99) from
 * /api/health, and the books from /api/zones (every zone's entries − exits must equal the people inside).
 *
 * A fault counts as recovered when health is `ok` again with the killed camera on a new FFmpeg (or, after a
 * redeploy, every camera running) within two minutes. The RSS slope is a least-squares fit over the samples after
 * the warm-up, in MB per hour. Each camera reads its own link to a sample video, so its FFmpeg can be told apart
 * (the multi-camera example's RTSP placeholder is disabled and stays so).
 *
 * Usage: npm run bench:soak -- --minutes N [--flows dashboard,multi-camera] [--kill-every MIN] [--redeploy-every MIN]
 *        [--warm-up MIN] [--port FIRST] [--json FILE]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { findSampleFile } from '../src/camera/source';
import { DEFAULT_MODEL_PATH } from '../src/detection/model';
import { childOf, childrenOf } from '../test/node-red';
import { ffmpegReading, uniqueVideo } from '../test/support';

const ROOT = path.resolve(__dirname, '..', '..');
const SAMPLE_MS = 10_000;
const RECOVERY_LIMIT_MS = 120_000;

interface Options {
  minutes: number;
  flows: string[];
  killEveryMinutes: number;
  redeployEveryMinutes: number;
  warmUpMinutes: number;
  /** Node-RED listens here, the next instance one above: another soak can run beside on other ports. */
  firstPort: number;
  json: string | null;
}

interface Health {
  status: string;
  cameras: { id: string; fps: number; problem: string | null; detection: { fps: number } | null }[];
  eventLoopDelay: { p99Ms: number } | null;
  memory?: { heapUsed: number; external: number };
}

type Zones = { cameraId: string; zones: { id: string; totalEntries: number; totalExits: number; currentCount: number }[] }[];

interface Sample {
  minute: number;
  rssMb: number;
  /** The JavaScript heap in use, from /api/health: a leak of objects shows here, native growth only in RSS. */
  heapMb: number | null;
  ffmpegRssMb: number;
  cameraFps: number;
  detectFps: number;
  loopP99Ms: number | null;
  status: string;
}

interface Fault {
  kind: 'ffmpeg killed' | 'redeploy';
  minute: number;
  camera: string | null;
  /** The FFmpeg killed, which must not be the one reading the camera afterwards. */
  victim: number | null;
  recoveredAfterS: number | null;
  startedAt: number;
}

interface Instance {
  flow: string;
  port: number;
  userDir: string;
  demo: ChildProcess;
  nodeRed: number;
  /** Camera id → the video link its FFmpeg reads. */
  videos: Map<string, string>;
  samples: Sample[];
  faults: Fault[];
  unbalanced: string[];
  output: string;
  nextKill: number;
  nextRedeploy: number;
  kills: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function parseOptions(argv: string[]): Options {
  const value = (name: string, fallback: string) => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 && argv[at + 1] !== undefined ? argv[at + 1] : fallback;
  };
  const number = (name: string, fallback: number) => {
    const n = Number(value(name, String(fallback)));
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, got "${value(name, '')}"`);
    return n;
  };
  const minutes = number('minutes', 10);
  return {
    minutes,
    flows: value('flows', 'dashboard,multi-camera').split(',').filter(Boolean),
    killEveryMinutes: number('kill-every', 7),
    redeployEveryMinutes: number('redeploy-every', 10),
    warmUpMinutes: Number(value('warm-up', String(Math.min(10, minutes / 3)))),
    firstPort: number('port', 19700),
    json: value('json', '') || null,
  };
}

/** The example with every camera on a link of its own to a local sample video. */
function prepareFlow(flow: string, userDir: string, videos: Map<string, string>): unknown[] {
  const nodes = JSON.parse(readFileSync(path.join(ROOT, 'examples', `${flow}.json`), 'utf8')) as Record<string, unknown>[];
  return nodes.map((node) => {
    // A disabled camera (the example's RTSP placeholder) stays as it is: it does not run.
    if (node.type !== 'camera-source' || node.d === true) return node;
    const source = String(node.source);
    const file = (source.startsWith('sample:') && findSampleFile(source.slice('sample:'.length))) || findSampleFile('vtest.avi')!;
    const cameraId = String(node.cameraId || node.id);
    const link = uniqueVideo(file, `soak-${path.basename(userDir)}-${cameraId}`);
    videos.set(cameraId, link);
    return { ...node, source: link, loop: true };
  });
}

async function start(flow: string, port: number, options: Options, offset: number): Promise<Instance> {
  const userDir = mkdtempSync(path.join(tmpdir(), `soak-${flow}-`));
  const videos = new Map<string, string>();
  const flowFile = path.join(userDir, 'import.json');
  writeFileSync(flowFile, JSON.stringify(prepareFlow(flow, userDir, videos)));
  const env = { ...process.env, PORT: String(port), DEMO_USER_DIR: userDir, DEMO_FLOW_FILE: flowFile };
  const demo = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const instance: Instance = {
    flow, port, userDir, demo, nodeRed: 0, videos, samples: [], faults: [], unbalanced: [], output: '', kills: 0,
    // Staggered, so the two instances are not hit at the same moment.
    nextKill: (options.killEveryMinutes + offset) * 60_000,
    nextRedeploy: (options.redeployEveryMinutes + offset) * 60_000,
  };
  const keep = (d: Buffer) => (instance.output = (instance.output + d.toString()).slice(-200_000));
  demo.stdout!.on('data', keep);
  demo.stderr!.on('data', keep);
  for (let waited = 0; !/Started flows/.test(instance.output); waited += 100) {
    if (demo.exitCode !== null || waited > 60_000) throw new Error(`Node-RED (${flow}) did not start:\n${instance.output}`);
    await sleep(100);
  }
  instance.nodeRed = childOf(demo.pid!);
  return instance;
}

async function getJson<T>(instance: Instance, url: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${instance.port}${url}`, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as T;
}

function rssMb(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function sample(instance: Instance, minute: number): Promise<Health | null> {
  const ffmpegRssMb = childrenOf(instance.nodeRed).filter((c) => c.command === 'ffmpeg').reduce((sum, c) => sum + rssMb(c.pid), 0);
  const health = await getJson<Health>(instance, '/api/health').catch(() => null);
  const zones = await getJson<Zones>(instance, '/api/zones').catch(() => [] as Zones);
  for (const { cameraId, zones: list } of zones) {
    for (const z of list) if (z.totalEntries - z.totalExits !== z.currentCount) instance.unbalanced.push(`minute ${minute.toFixed(1)} ${cameraId}/${z.id}: ${z.totalEntries} − ${z.totalExits} ≠ ${z.currentCount}`);
  }
  instance.samples.push({
    minute,
    rssMb: rssMb(instance.nodeRed),
    heapMb: health?.memory?.heapUsed ?? null,
    ffmpegRssMb,
    cameraFps: health?.cameras.reduce((sum, c) => sum + c.fps, 0) ?? 0,
    detectFps: health?.cameras.reduce((sum, c) => sum + (c.detection?.fps ?? 0), 0) ?? 0,
    loopP99Ms: health?.eventLoopDelay?.p99Ms ?? null,
    status: health?.status ?? 'unreachable',
  });
  return health;
}

async function redeploy(instance: Instance): Promise<void> {
  const flows = await getJson<unknown[]>(instance, '/flows');
  const res = await fetch(`http://127.0.0.1:${instance.port}/flows`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
    body: JSON.stringify(flows),
  });
  if (res.status !== 204) throw new Error(`redeploy of ${instance.flow}: HTTP ${res.status} ${await res.text()}`);
}

/** Injects the faults that are due and checks whether earlier ones have recovered. */
async function faults(instance: Instance, elapsedMs: number, options: Options, health: Health | null): Promise<void> {
  const now = Date.now();
  for (const fault of instance.faults.filter((f) => f.recoveredAfterS === null && now - f.startedAt <= RECOVERY_LIMIT_MS)) {
    const cameraBack = fault.camera === null || (health?.cameras.find((c) => c.id === fault.camera)?.problem === null && !ffmpegReading(instance.videos.get(fault.camera)!).includes(fault.victim!));
    if (health?.status === 'ok' && cameraBack) fault.recoveredAfterS = (now - fault.startedAt) / 1000;
  }
  const minute = elapsedMs / 60_000;
  if (elapsedMs >= instance.nextKill) {
    instance.nextKill += options.killEveryMinutes * 60_000;
    const cameras = [...instance.videos.keys()];
    const camera = cameras[instance.kills++ % cameras.length];
    const [victim] = ffmpegReading(instance.videos.get(camera)!);
    if (victim) {
      process.kill(victim, 'SIGKILL');
      instance.faults.push({ kind: 'ffmpeg killed', minute, camera, victim, recoveredAfterS: null, startedAt: now });
    }
  }
  if (elapsedMs >= instance.nextRedeploy) {
    instance.nextRedeploy += options.redeployEveryMinutes * 60_000;
    await redeploy(instance);
    instance.faults.push({ kind: 'redeploy', minute, camera: null, victim: null, recoveredAfterS: null, startedAt: now });
  }
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? NaN : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
};

function report(instance: Instance, options: Options) {
  const settled = instance.samples.filter((s) => s.minute >= options.warmUpMinutes);
  const recovered = instance.faults.filter((f) => f.recoveredAfterS !== null);
  // A fault too recent to have had its two minutes is neither recovered nor failed.
  const pending = instance.faults.filter((f) => f.recoveredAfterS === null && Date.now() - f.startedAt <= RECOVERY_LIMIT_MS);
  return {
    flow: instance.flow,
    cameras: instance.videos.size,
    samples: instance.samples.length,
    rssStartMb: settled[0]?.rssMb ?? NaN,
    rssEndMb: settled.at(-1)?.rssMb ?? NaN,
    rssMaxMb: Math.max(...instance.samples.map((s) => s.rssMb)),
    rssSlopeMbPerHour: slope(settled.map((s) => [s.minute / 60, s.rssMb])),
    heapSlopeMbPerHour: slope(settled.flatMap((s) => (s.heapMb === null ? [] : [[s.minute / 60, s.heapMb] as [number, number]]))),
    ffmpegRssSlopeMbPerHour: slope(settled.map((s) => [s.minute / 60, s.ffmpegRssMb])),
    cameraFpsMedian: percentile(settled.map((s) => s.cameraFps), 0.5),
    detectFpsMedian: percentile(settled.map((s) => s.detectFps), 0.5),
    loopP99MedianMs: percentile(settled.flatMap((s) => (s.loopP99Ms === null ? [] : [s.loopP99Ms])), 0.5),
    loopP99MaxMs: Math.max(...settled.flatMap((s) => (s.loopP99Ms === null ? [] : [s.loopP99Ms]))),
    notOkSamples: instance.samples.filter((s) => s.status !== 'ok').length,
    ffmpegKills: instance.faults.filter((f) => f.kind === 'ffmpeg killed').length,
    redeploys: instance.faults.filter((f) => f.kind === 'redeploy').length,
    recovered: recovered.length,
    pending: pending.length,
    unrecovered: instance.faults.length - recovered.length - pending.length,
    slowestRecoveryS: Math.max(0, ...recovered.map((f) => f.recoveredAfterS!)),
    unbalancedReads: instance.unbalanced.length,
    firstUnbalanced: instance.unbalanced.slice(0, 5),
  };
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (!findSampleFile('vtest.avi')) {
    console.log('bench/soak: skipped, vtest.avi not found (Debian/Ubuntu: apt-get install opencv-doc)');
    return;
  }
  if (!existsSync(DEFAULT_MODEL_PATH)) throw new Error(`${DEFAULT_MODEL_PATH} not found: run "npm run setup"`);
  console.log(`bench/soak: ${options.flows.join(' + ')} for ${options.minutes} min; FFmpeg killed every ${options.killEveryMinutes} min and a full redeploy every ${options.redeployEveryMinutes} min per instance; warm-up ${options.warmUpMinutes} min`);
  const instances: Instance[] = [];
  try {
    for (const [i, flow] of options.flows.entries()) instances.push(await start(flow, options.firstPort + i, options, i * 2));
    const started = Date.now();
    let lastPrint = 0;
    while (Date.now() - started < options.minutes * 60_000) {
      const elapsed = Date.now() - started;
      for (const instance of instances) {
        if (instance.demo.exitCode !== null) throw new Error(`Node-RED (${instance.flow}) exited:\n${instance.output.slice(-5000)}`);
        const health = await sample(instance, elapsed / 60_000);
        await faults(instance, elapsed, options, health);
      }
      if (elapsed - lastPrint >= 60_000) {
        lastPrint = elapsed;
        const line = instances.map((i) => {
          const s = i.samples.at(-1)!;
          return `${i.flow}: ${s.status} rss ${s.rssMb.toFixed(0)} MB (heap ${s.heapMb ?? '-'}), ${s.cameraFps.toFixed(1)} cam fps, ${s.detectFps.toFixed(1)} det fps, loop p99 ${s.loopP99Ms?.toFixed(0) ?? '-'} ms`;
        });
        console.log(`  ${(elapsed / 60_000).toFixed(0).padStart(4)} min  ${line.join(' | ')}`);
      }
      await sleep(SAMPLE_MS - ((Date.now() - started) % SAMPLE_MS));
    }
    const reports = instances.map((i) => report(i, options));
    console.log('');
    console.log(`${'flow'.padEnd(13)} ${'cams'.padStart(4)} ${'RSS MB start→end (max)'.padStart(24)} ${'MB/h'.padStart(6)} ${'heap MB/h'.padStart(9)} ${'ffmpeg MB/h'.padStart(11)} ${'cam fps'.padStart(7)} ${'det fps'.padStart(7)} ${'loop p99 med/max'.padStart(16)} ${'kills'.padStart(5)} ${'deploys'.padStart(7)} ${'recovered'.padStart(9)} ${'slowest'.padStart(7)} ${'not ok'.padStart(6)} ${'unbalanced'.padStart(10)}`);
    for (const r of reports) {
      console.log(
        `${r.flow.padEnd(13)} ${String(r.cameras).padStart(4)} ${`${r.rssStartMb.toFixed(0)}→${r.rssEndMb.toFixed(0)} (${r.rssMaxMb.toFixed(0)})`.padStart(24)} ${r.rssSlopeMbPerHour.toFixed(1).padStart(6)} ${r.heapSlopeMbPerHour.toFixed(1).padStart(9)} ${r.ffmpegRssSlopeMbPerHour.toFixed(1).padStart(11)} ` +
          `${r.cameraFpsMedian.toFixed(1).padStart(7)} ${r.detectFpsMedian.toFixed(1).padStart(7)} ${`${r.loopP99MedianMs.toFixed(0)}/${r.loopP99MaxMs.toFixed(0)} ms`.padStart(16)} ${String(r.ffmpegKills).padStart(5)} ${String(r.redeploys).padStart(7)} ` +
          `${`${r.recovered}/${r.recovered + r.unrecovered}`.padStart(9)}${r.pending ? ` (+${r.pending} too recent to judge)` : ''} ${`${r.slowestRecoveryS.toFixed(0)} s`.padStart(7)} ${String(r.notOkSamples).padStart(6)} ${String(r.unbalancedReads).padStart(10)}`,
      );
      for (const line of r.firstUnbalanced) console.log(`  unbalanced: ${line}`);
    }
    console.log('MB/h: least-squares RSS slope of the Node-RED process after the warm-up (its JavaScript heap and its FFmpeg children apart); fps: medians of the sums over cameras');
    console.log('recovered: faults after which health was ok again (the killed camera on a new FFmpeg) within 2 min; not ok: samples whose health was not ok; unbalanced: zone reads where entries − exits ≠ inside');
    if (options.json) writeFileSync(options.json, JSON.stringify({ options, reports, samples: Object.fromEntries(instances.map((i) => [i.flow, i.samples])), faults: Object.fromEntries(instances.map((i) => [i.flow, i.faults])) }, null, 1));
  } finally {
    for (const instance of instances) {
      if (instance.demo.exitCode === null) {
        instance.demo.kill('SIGINT');
        await new Promise((resolve) => instance.demo.once('exit', resolve));
      }
      rmSync(instance.userDir, { recursive: true, force: true });
    }
  }
}

main().catch((err: Error) => {
  console.error(`bench/soak: ${err.message}`);
  process.exitCode = 1;
});
