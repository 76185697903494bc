/**
 * Hostile input into every node: malformed messages — wrong types, missing fields, NaN/Infinity/negative/
 * fractional sizes and boxes, huge arrays, deep nesting, prototype-less objects, BigInt, `__proto__` keys,
 * unknown cameras and stale frame references, truncated and oversized images — each followed now and then by a
 * valid message. For every message exactly one of a completion (Complete node) or an error that reaches a Catch
 * node; the process alive; the heap bounded; valid messages processed normally. Seeded and reproducible:
 * FUZZ_MESSAGES (per node, default 150) and FUZZ_SEED, FUZZ_DEBUG=1 to print each message; `npm run fuzz --
 * --messages 10000` for the long run.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import helper from 'node-red-node-test-helper';
import sharp from 'sharp';
import { frameStore } from '../src/camera/frame-store';
import { DEFAULT_MODEL_PATH } from '../src/detection/model';
import { startRedis, stopAllRedis } from './redis';
import { waitFor } from './support';
import { existsSync } from 'node:fs';

helper.init(require.resolve('node-red'));

const coreNode = (file: string) => require(require.resolve(`@node-red/nodes/core/common/${file}`));
const NODES = {
  cameraSource: require('../nodes/camera-source'),
  yoloModel: require('../nodes/yolo-model'),
  yoloDetect: require('../nodes/yolo-detect'),
  sortTrack: require('../nodes/sort-track'),
  zoneAnalytics: require('../nodes/zone-analytics'),
  heatmap: require('../nodes/heatmap'),
  apiOut: require('../nodes/api-out'),
  posConversion: require('../nodes/pos-conversion'),
  mqttTopics: require('../nodes/mqtt-topics'),
  redisConfig: require('../nodes/redis-config'),
  fleetPublish: require('../nodes/fleet-publish'),
};
const catchNode = coreNode('25-catch.js');
const completeNode = coreNode('24-complete.js');
const statusNode = coreNode('25-status.js');

const MESSAGES = Number(process.env.FUZZ_MESSAGES ?? 150);
const SEED = Number(process.env.FUZZ_SEED ?? 20261129);
/** A message is finished within this, or it counts as lost (the first messages to yolo-detect wait for the model). */
const SETTLE_MS = 15000;

type Msg = Record<string, any>;

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function nested(depth: number, leaf: unknown, asArray: boolean): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = asArray ? [value] : { next: value };
  return value;
}

/** Hostile values, built once (the big ones are shared between messages). */
function hostileValues(truncatedPng: Buffer): unknown[] {
  const bare = Object.assign(Object.create(null), { cameraId: 'x', id: 1, label: 'person' });
  return [
    undefined, null, true, false, 0, -0, -1, 1.5, 0.1, NaN, Infinity, -Infinity, 1e308, -1e308, 2 ** 53 + 1, 10n, -7n,
    '', 'x', 'a'.repeat(100_000), '\u0000\u001f', '../../etc/passwd', '{"id":', '[object Object]',
    [], [null], [NaN, Infinity, -1, 1.5], [0, 0, -5, -5], ['1', '2', '3', '4'], [10n, 0n, 20n, 30n],
    new Array(20_000).fill({ id: 1, bbox: [0, 0, 10, 10], score: 0.9 }),
    Array.from({ length: 5_000 }, (_, i) => ({ id: i, bbox: [i, i, i + 40, i + 90], score: 0.9 })),
    {}, bare, { toString: null, valueOf: null }, JSON.parse('{"__proto__": {"polluted": true}, "id": 1}'),
    nested(100_000, 1, true), nested(20_000, { id: 'D' }, false),
    Buffer.from('garbage'), truncatedPng, new Uint8Array(3), new Date(NaN),
    { cameraId: 'ghost', seq: 99999999, timestamp: Date.now(), width: 640, height: 480, dropped: 0 },
    { cameraId: 'c', seq: 1, timestamp: 0, width: 30000, height: 30000, dropped: 0 },
    { cameraId: 'c', seq: 1, timestamp: 0, width: 100000, height: 100000, dropped: 0 },
    { cameraId: 'c', seq: 1.5, timestamp: NaN, width: 640.5, height: -480, dropped: -1 },
  ];
}

interface Target {
  name: string;
  modules: unknown[];
  /** The node under test and its config nodes (id "target" is the one fed). */
  nodes: Msg[];
  /** A message the node must process normally; `n` makes it unique. */
  valid(n: number): Msg;
  /** Dotted paths into a valid message where hostile values go. */
  paths: string[];
  /** Check a valid message every this many hostile ones. */
  validEvery: number;
  skip?: () => string | null;
  /** Needs a Redis server: its config node (id "redis") gets the address of one the test starts. */
  redis?: boolean;
}

const frameRef = (cameraId: string, seq: number) => ({ cameraId, seq, timestamp: 1_764_000_000_000 + seq * 100, width: 640, height: 480, dropped: 0 });
const detections = (seq: number) => [
  { bbox: [100 + seq, 100, 140 + seq, 200], score: 0.9, classId: 0, label: 'person' },
  { bbox: [300, 120, 340, 220], score: 0.3, classId: 0, label: 'person' },
];
const tracks = (seq: number) => [
  { id: 1, bbox: [100 + seq, 100, 140 + seq, 200], detection: { index: 0, score: 0.9, classId: 0, label: 'person' }, trail: [[120, 200]] },
  { id: 2, bbox: [300, 120, 340, 220], detection: null },
];
const FRAME_PATHS = ['frame', 'frame.cameraId', 'frame.seq', 'frame.timestamp', 'frame.width', 'frame.height', 'frame.dropped', 'topic', 'cameraId', 'payload'];

function targets(dir: string): Target[] {
  const layout = JSON.stringify({ zones: [{ id: 'shelf', polygon: [[0, 0], [320, 0], [320, 480], [0, 480]] }], lines: [{ id: 'door', from: [200, 0], to: [200, 480] }] });
  return [
    {
      name: 'sort-track',
      modules: [NODES.sortTrack],
      nodes: [{ id: 'target', type: 'sort-track', algorithm: 'bytetrack', trackThresh: 0.6, matchThresh: 0.9, trackBuffer: 30, frameRate: 10, trailLength: 30 }],
      valid: (n) => ({ frame: frameRef('fuzz', n), detections: detections(n) }),
      paths: [...FRAME_PATHS, 'detections', 'detections.0', 'detections.0.bbox', 'detections.0.bbox.2', 'detections.0.score', 'detections.0.label', 'detections.0.classId', 'reset'],
      validEvery: 1,
    },
    {
      name: 'zone-analytics',
      modules: [NODES.zoneAnalytics],
      nodes: [{ id: 'target', type: 'zone-analytics', layout, anchor: 'bottom-center', trackTimeout: 30, timeZone: 'Europe/Paris', persist: true, database: path.join(dir, 'zones.db') }],
      valid: (n) => ({ frame: frameRef('fuzz', n), tracks: tracks(n) }),
      paths: [...FRAME_PATHS, 'tracks', 'tracks.0', 'tracks.0.id', 'tracks.0.bbox', 'tracks.0.bbox.1', 'tracks.0.detection', 'tracks.0.detection.label'],
      validEvery: 1,
    },
    {
      name: 'heatmap',
      modules: [NODES.heatmap],
      nodes: [{ id: 'target', type: 'heatmap', cellSize: 8, decay: 0.98, sigma: 24, every: 7, format: 'png', quality: 80, overlay: false, privacy: false, opacity: 0.6, longTerm: false, anchor: 'bottom-center' }],
      valid: (n) => ({ frame: frameRef('fuzz', n), tracks: tracks(n) }),
      paths: [...FRAME_PATHS, 'tracks', 'tracks.0', 'tracks.0.bbox', 'tracks.0.bbox.3'],
      validEvery: 1,
    },
    {
      name: 'mqtt-topics',
      modules: [NODES.mqttTopics],
      nodes: [{ id: 'target', type: 'mqtt-topics', prefix: 'retail/', throttle: 1, discovery: true, discoveryPrefix: 'homeassistant', instance: 'fuzz' }],
      valid: (n) =>
        n % 2 === 0
          ? { frame: frameRef('fuzz', n), zones: [{ id: 'shelf', name: 'shelf', currentCount: 1, totalEntries: n, totalExits: 0, avgDwellSeconds: null }], lines: [{ id: 'door', name: 'door', in: n, out: 0 }], occupancy: 2, today: { camera: { footfall: n } } }
          : { payload: { type: 'enter', zoneId: 'shelf', trackId: n, at: n, visitId: `shelf:${n}:${n}`, label: 'person', cameraId: 'fuzz' } },
      paths: [...FRAME_PATHS, 'zones', 'zones.0', 'zones.0.id', 'zones.0.byClass', 'lines', 'lines.0.id', 'occupancy', 'today', 'today.camera', 'payload.type', 'payload.cameraId', 'payload.zoneId'],
      validEvery: 1,
    },
    {
      name: 'api-out',
      modules: [NODES.apiOut],
      nodes: [{ id: 'target', type: 'api-out', basePath: '/fuzzapi', privacy: false, quality: 70, database: path.join(dir, 'api.db') }],
      valid: (n) =>
        n % 3 === 0
          ? { cameraId: 'remote', zones: [{ id: 'shelf', currentCount: 1 }], lines: [], occupancy: 1, fleet: { aggregator: 'agg', instance: 'w1', online: true, name: 'Remote', state: 'running', fps: 10, detection: { fps: 5 } } }
          : { frame: frameRef('fuzz', n), detections: detections(n), tracks: tracks(n), zones: [{ id: 'shelf', currentCount: 1 }], lines: [{ id: 'door', in: 1, out: 0 }], occupancy: 2 },
      paths: [...FRAME_PATHS, 'detections', 'detections.0.bbox', 'tracks', 'tracks.0.trail', 'tracks.0.id', 'zones', 'zones.0', 'lines', 'zoneGeometry', 'occupancy', 'heatmap', 'payload.type', 'fleet', 'fleet.aggregator', 'fleet.instance', 'fleet.online', 'fleet.detection', 'fleet.fps'],
      validEvery: 1,
    },
    {
      name: 'fleet-publish',
      modules: [NODES.redisConfig, NODES.fleetPublish],
      redis: true,
      nodes: [
        { id: 'redis', type: 'redis-config', host: '', port: 6379, db: 0, tls: false, prefix: 'fuzz:', instance: 'fuzz' },
        { id: 'target', type: 'fleet-publish', redis: 'redis', prefixCameraIds: true, offlineAfter: 15, interval: 1, shareFrames: false, frameRate: 1, privacy: true, streamLength: 1000, database: '' },
      ],
      valid: (n) =>
        n % 2 === 0
          ? { frame: frameRef('fuzz', n), tracks: tracks(n), zones: [{ id: 'shelf', name: 'shelf', currentCount: 1, totalEntries: n, totalExits: 0 }], lines: [{ id: 'door', name: 'door', in: n, out: 0 }], occupancy: 2, zoneGeometry: { zones: [], lines: [] } }
          : { payload: { type: 'enter', zoneId: 'shelf', trackId: n, at: n, visitId: `shelf:${n}:${n}`, cameraId: 'fuzz' } },
      paths: [...FRAME_PATHS, 'zones', 'zones.0', 'zones.0.totalEntries', 'lines', 'lines.0', 'occupancy', 'tracks', 'tracks.0.bbox', 'zoneGeometry', 'heatmap', 'heatmap.cameraId', 'payload.type', 'payload.cameraId'],
      validEvery: 1,
    },
    {
      name: 'pos-conversion',
      modules: [NODES.posConversion],
      nodes: [{ id: 'target', type: 'pos-conversion', footfallCamera: '', timeZone: 'Europe/Paris', database: path.join(dir, 'sales.db'), retentionDays: 400 }],
      valid: (n) => ({ payload: { id: `FUZZ-${n}`, amount: 2.5 } }),
      paths: ['payload', 'payload.id', 'payload.timestamp', 'payload.amount', 'payload.transactions', 'topic', 'day'],
      validEvery: 1,
    },
    {
      name: 'camera-source',
      modules: [NODES.cameraSource],
      nodes: [{ id: 'target', type: 'camera-source', cameraId: 'fuzzcam', source: 'sample:vtest.avi', loop: true, realtime: false, width: 64, height: 0, fps: 0, autostart: false }],
      valid: () => ({ payload: 'stop' }),
      paths: ['payload', 'topic', 'frame'],
      validEvery: 1,
    },
    {
      name: 'yolo-detect',
      modules: [NODES.yoloModel, NODES.yoloDetect],
      nodes: [
        { id: 'model', type: 'yolo-model', name: 'm', modelPath: DEFAULT_MODEL_PATH, threads: 1, inputSize: 0, executionProvider: 'cpu', maxBatch: 1 },
        { id: 'target', type: 'yolo-detect', model: 'model', confidence: 0.1, iou: 0.45, classes: 'person', maxMegapixels: 50 },
      ],
      valid: (n) => ({ frame: storedFrame(n) }),
      paths: [...FRAME_PATHS],
      validEvery: 15,
      skip: () => (existsSync(DEFAULT_MODEL_PATH) ? null : 'the model is not fetched ("npm run setup")'),
    },
  ];
}

/** A small frame put in the frame store, as camera-source does, and its reference. */
function storedFrame(n: number) {
  const ref = { ...frameRef('fuzzdetect', n), width: 64, height: 48 };
  frameStore.put({ ref, pixels: new Uint8Array(64 * 48 * 3).fill(128), width: 64, height: 48 });
  return ref;
}

/** Sets a dotted path, copying each container on the way (hostile values are shared between messages). */
function setPath(msg: Msg, dotted: string, value: unknown): void {
  const keys = dotted.split('.');
  let at: any = msg;
  for (const key of keys.slice(0, -1)) {
    const next = at[key];
    at[key] = Array.isArray(next) ? [...next] : typeof next === 'object' && next !== null && Object.getPrototypeOf(next) === Object.prototype ? { ...next } : {};
    at = at[key];
  }
  at[keys.at(-1)!] = value;
}

describe('fuzz: hostile messages into every node', function () {
  this.timeout(0);
  const dir = mkdtempSync(path.join(tmpdir(), 'fuzz-'));
  let hostile: unknown[];

  before(async () => {
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#808080' } }).png().toBuffer();
    hostile = hostileValues(png.subarray(0, 60));
  });

  beforeEach((done) => {
    helper.startServer(done);
  });

  afterEach(async () => {
    await helper.unload();
    await stopAllRedis();
    await new Promise<void>((resolve) => helper.stopServer(resolve));
  });

  for (const target of targets(dir)) {
    it(`${target.name}: every message finishes once (output or Catch), the next valid one works, the heap stays bounded`, async function () {
      const reason = target.skip?.();
      if (reason) {
        console.log(`      skipped: ${reason}`);
        this.skip();
      }
      const redis = target.redis ? await startRedis(this) : null;
      const flow = [
        { id: 'tab', type: 'tab' },
        ...target.nodes.map((n) => ({ z: 'tab', wires: n.id === 'target' ? [['out'], ['out']] : [], ...n, ...(n.id === 'redis' && redis ? { host: redis.url } : {}) })),
        { id: 'out', type: 'helper', z: 'tab' },
        { id: 'catcher', type: 'catch', z: 'tab', scope: ['target'], uncaught: false, wires: [['errors']] },
        { id: 'errors', type: 'helper', z: 'tab' },
        { id: 'completer', type: 'complete', z: 'tab', scope: ['target'], uncaught: false, wires: [['completed']] },
        { id: 'completed', type: 'helper', z: 'tab' },
        { id: 'statuses', type: 'status', z: 'tab', scope: null, wires: [[]] },
      ];
      await helper.load([...target.modules, catchNode, completeNode, statusNode] as never, flow);
      const node = helper.getNode('target');
      let finished = 0;
      let failed = 0;
      let validOk = 0;
      let errorsSeen = 0;
      // Only the message in flight counts: a node may also report a problem of its own (fleet-publish's Redis
      // round failing on a loaded box), which reaches the Catch node as another message.
      let inFlight = '';
      helper.getNode('errors').on('input', (msg: Msg) => {
        if (msg._msgid !== inFlight) return;
        finished++;
        errorsSeen++;
      });
      helper.getNode('completed').on('input', (msg: Msg) => msg._msgid === inFlight && finished++);
      const rng = random(SEED ^ target.name.length * 7919);
      const pick = <T>(list: T[]) => list[Math.floor(rng() * list.length)];
      let peakHeap = 0;
      /** Heap still in use after a full collection (when run with --expose-gc, as `npm run fuzz` does). */
      let retainedHeap = 0;
      const collect = (global as { gc?: () => void }).gc;
      let sent = 0;

      const send = async (msg: Msg, what: string) => {
        const before = finished;
        sent++;
        if (process.env.FUZZ_DEBUG) console.log(sent, what, Object.keys(msg), typeof msg.payload === "string" ? msg.payload.slice(0, 20) : typeof msg.payload);
        inFlight = `fuzz-${sent}`;
        node.receive({ ...msg, _msgid: inFlight });
        await waitFor(() => finished > before, SETTLE_MS, `${target.name}: message ${sent} (${what}) to finish`);
        // A message finished twice would show here, before the next one is sent.
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(finished, before + 1, `${target.name}: message ${sent} (${what}) finished ${finished - before} times`);
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        if (collect && sent % 1000 === 0) {
          // The test helper's spies on Node.send/error/log keep every call's arguments (the messages): that is the
          // harness's memory, not the node's, so it is forgotten before the heap is measured.
          (helper as unknown as { _sandbox?: { resetHistory(): void } })._sandbox?.resetHistory();
          collect();
          retainedHeap = Math.max(retainedHeap, process.memoryUsage().heapUsed);
        }
      };

      for (let i = 1; i <= MESSAGES; i++) {
        const msg = target.valid(1000 + i);
        const where = pick(target.paths);
        const value = pick(hostile);
        setPath(msg, where, value);
        if (rng() < 0.1) setPath(msg, pick(target.paths), pick(hostile));
        await send(msg, `${where} = ${typeof value === 'bigint' ? `${value}n` : typeof value === 'object' && value !== null ? (Array.isArray(value) ? `array(${value.length})` : 'object') : String(value).slice(0, 30)}`);
        if (i % target.validEvery === 0) {
          const errorsBefore = errorsSeen;
          await send(target.valid(100_000 + i), 'a valid message');
          if (errorsSeen === errorsBefore) validOk++;
          else failed++;
        }
      }
      const megabytes = peakHeap / 1024 / 1024;
      const retained = retainedHeap / 1024 / 1024;
      console.log(
        `      ${target.name}: ${sent} messages (${MESSAGES} hostile), every one finished once, ${validOk} valid ones processed, ` +
          `peak heap ${megabytes.toFixed(0)} MB${collect && sent >= 1000 ? `, at most ${retained.toFixed(0)} MB after garbage collection` : ''}`,
      );
      assert.equal(failed, 0, 'every valid message after a hostile one is processed normally');
      assert.ok(megabytes < 1500, `peak heap ${megabytes.toFixed(0)} MB`);
      if (collect && sent >= 1000) assert.ok(retained < 400, `${retained.toFixed(0)} MB still in use after garbage collection`);
    });
  }
});
