import { strict as assert } from 'node:assert';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { frameStore } from '../src/camera/frame-store';
import { annotateFrame } from '../src/api/annotate';
import { createApi } from '../src/api/http';
import { ApiState } from '../src/api/state';
import { detectionRegistry, type ModelCondition } from '../src/detection/usage-registry';
import { MetricsCollector } from '../src/metrics/collector';
import { SalesLedger } from '../src/sales/ledger';
import { decodeImage } from '../src/imaging/image';

/** A raw GET, so paths reach the server exactly as written (no client-side normalisation). */
function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('annotateFrame', () => {
  const grey = () => ({ pixels: new Uint8Array(320 * 240 * 3).fill(128), width: 320, height: 240 });
  const pixelAt = async (jpeg: Buffer, x: number, y: number) => {
    const image = await decodeImage(jpeg);
    return Array.from(image.pixels.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3));
  };

  it('draws boxes, zones and lines on the frame as a JPEG of its size', async () => {
    const jpeg = await annotateFrame(grey(), {
      tracks: [{ id: 3, bbox: [100, 50, 150, 200], trail: [[90, 210], [125, 200]] }],
      zones: [{ id: 'z', polygon: [[10, 10], [60, 10], [60, 60], [10, 60]], currentCount: 2 }],
      lines: [{ id: 'l', from: [200, 230], to: [300, 230], in: 1, out: 0 }],
    }, { quality: 90, privacy: false });
    assert.deepEqual([jpeg[0], jpeg[1]], [0xff, 0xd8]);
    const image = await decodeImage(jpeg);
    assert.deepEqual([image.width, image.height], [320, 240]);
    const [r, g, b] = await pixelAt(jpeg, 100, 120);
    assert.ok(g > 180 && r < 140 && b < 140, `the box edge is green, got ${[r, g, b]}`);
    assert.deepEqual((await pixelAt(jpeg, 250, 120)).map((v) => Math.abs(v - 128) < 6), [true, true, true], 'elsewhere the frame is untouched');
  });

  it('blurs people in privacy mode', async () => {
    const frame = grey();
    // A sharp black-and-white stripe pattern where a person stands.
    for (let y = 50; y < 200; y++) for (let x = 100; x < 150; x++) frame.pixels.fill(x % 2 ? 255 : 0, (y * 320 + x) * 3, (y * 320 + x) * 3 + 3);
    const sharp = await decodeImage(await annotateFrame(frame, {}, { quality: 95, privacy: false }));
    const blurred = await decodeImage(await annotateFrame(frame, { detections: [{ bbox: [100, 50, 150, 200] }] }, { quality: 95, privacy: true }));
    const contrast = (image: { pixels: Uint8Array }) => Math.abs(image.pixels[(120 * 320 + 124) * 3] - image.pixels[(120 * 320 + 125) * 3]);
    assert.ok(contrast(sharp) > 150, `stripes visible without privacy (${contrast(sharp)})`);
    assert.ok(contrast(blurred) < 30, `stripes gone with privacy (${contrast(blurred)})`);
  });
});

describe('REST API handler', () => {
  let server: Server;
  let port: number;
  const state = new ApiState();
  const metrics = new MetricsCollector({ timeZone: 'UTC' });
  const sales = new SalesLedger(':memory:', { timeZone: 'UTC', retentionDays: 400, footfallCamera: '' });
  const now = Date.now();

  before(async () => {
    frameStore.put({ ref: { cameraId: 'api-test', seq: 1, timestamp: now, width: 64, height: 48, dropped: 0 }, pixels: new Uint8Array(64 * 48 * 3), width: 64, height: 48 });
    state.ingest({
      frame: { cameraId: 'api-test', seq: 1, timestamp: now, width: 64, height: 48, dropped: 0 },
      tracks: [{ id: 1, bbox: [10, 10, 20, 30] }],
      zones: [{ id: 'door', name: 'door', currentCount: 1, totalEntries: 5, totalExits: 4, avgDwellSeconds: 3, peakCount: 2, peakAt: now }],
      lines: [{ id: 'in', name: 'in', in: 5, out: 4 }],
      occupancy: 1,
    });
    metrics.recordFootfall('api-test', now);
    metrics.recordOccupancy('api-test', now, 1);
    sales.record([{ id: 'R1', at: now, amount: 12 }, { id: 'R2', at: now, amount: null }], now);
    const api = createApi({ state, basePath: '/api', metrics: () => metrics, sales: () => sales, quality: 80, privacy: false, startedAt: now - 5000 });
    server = createServer((req, res) => {
      if (req.url?.startsWith('/api/') || req.url === '/api') {
        req.url = req.url.slice(4) || '/';
        api.handle(req, res);
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    frameStore.delete('api-test');
    server.close();
  });

  it('answers every endpoint with the documented shape', async () => {
    const json = async (path: string) => {
      const res = await get(port, path);
      assert.equal(res.status, 200, `${path}: ${res.body}`);
      assert.match(res.type, /application\/json/);
      return JSON.parse(res.body.toString());
    };
    // A camera is healthy while its frames are fresh: this one's latest frame is now.
    state.ingest({ frame: { cameraId: 'api-test', seq: 2, timestamp: Date.now(), width: 64, height: 48, dropped: 0 } });
    const health = await json('/api/health');
    assert.equal(health.status, 'ok');
    assert.deepEqual(health.problems, []);
    assert.ok(health.memory.rss > 0 && health.memory.heapUsed > 0 && health.memory.rss >= health.memory.heapUsed, JSON.stringify(health.memory));
    assert.ok(health.uptimeSeconds >= 5);
    assert.deepEqual(health.cameras.map((c: { id: string }) => c.id), ['api-test']);
    const cameras = await json('/api/cameras');
    assert.deepEqual(Object.keys(cameras[0]).sort(), ['activeTracks', 'detection', 'fps', 'framesProcessed', 'height', 'id', 'instance', 'lastFrameAt', 'name', 'occupancy', 'source', 'state', 'width', 'zones']);
    assert.deepEqual([cameras[0].width, cameras[0].activeTracks, cameras[0].zones, cameras[0].detection], [64, 1, ['door'], null], 'no yolo-detect node has seen this camera');
    const camera = await json('/api/cameras/api-test');
    assert.equal(camera.zoneStats[0].totalEntries, 5);
    const stats = await json('/api/stats');
    assert.deepEqual([stats.total.occupancy, stats.total.footfallToday, stats.cameras['api-test'].footfallToday, stats.total.peakToday.count], [1, 1, 1, 1]);
    assert.equal(stats.total.footfallByHour.length, 1);
    assert.deepEqual(stats.conversionToday, { footfall: 1, transactions: 2, conversionRate: 2, revenue: 12, averageBasket: 12, basketPerVisitor: 12 });
    const conversion = await json('/api/conversion');
    assert.deepEqual([conversion.day, conversion.footfallCamera, conversion.footfallCounted, conversion.hours.length, conversion.days.length], [metrics.dayOf(now), '*', true, 1, 7]);
    assert.deepEqual(conversion.total, stats.conversionToday);
    const zones = await json('/api/zones');
    assert.deepEqual(zones[0].lines, [{ id: 'in', name: 'in', in: 5, out: 4 }]);
    const openapi = await json('/api/openapi.json');
    assert.equal(openapi.openapi, '3.0.3');
    for (const path of ['/health', '/cameras', '/cameras/{id}', '/cameras/{id}/frame', '/cameras/{id}/heatmap', '/cameras/{id}/clips', '/clips', '/clips/{clip}', '/clips/{clip}/frames/{n}', '/clips/{clip}/audits', '/audits', '/stats', '/conversion', '/export', '/zones', '/ws/stream/{id}', '/ws/analytics']) {
      assert.ok(openapi.paths[path], path);
    }
  });

  it('serves the annotated frame as JPEG and explains what it cannot serve', async () => {
    const frame = await get(port, '/api/cameras/api-test/frame?quality=50');
    assert.equal(frame.status, 200);
    assert.equal(frame.type, 'image/jpeg');
    const image = await decodeImage(frame.body);
    assert.deepEqual([image.width, image.height], [64, 48]);
    const cases: [string, number, RegExp][] = [
      ['/api/cameras/nowhere', 404, /unknown camera "nowhere"/],
      ['/api/cameras/nowhere/frame', 404, /unknown camera/],
      ['/api/cameras/api-test/heatmap', 404, /no heatmap for camera "api-test" yet/],
      ['/api/cameras/api-test/frame?quality=0', 400, /quality must be a whole number from 1 to 100/],
      ['/api/cameras/api-test/frame?quality=high', 400, /quality/],
      ['/api/cameras/%E0%A4%A/frame', 400, /badly encoded/],
      ['/api/nothing-here', 404, /no such endpoint/],
      ['/api/../package.json', 404, /no such endpoint/],
      ['/api/..%2fpackage.json', 404, /no such endpoint/],
      ['/api/%2e%2e/%2e%2e/package.json', 404, /no such endpoint/],
      ['/api/ws/analytics', 426, /WebSocket/],
      ['/api/conversion?day=yesterday', 400, /day must be a date/],
      ['/api/ws/stream/nowhere', 404, /unknown camera/],
    ];
    for (const [path, status, message] of cases) {
      const res = await get(port, path);
      assert.equal(res.status, status, path);
      assert.match(JSON.parse(res.body.toString()).error, message, path);
    }
    const post = await get(port, '/api/stats', 'POST');
    assert.equal(post.status, 405);
  });

  it('serves a heatmap once one arrives', async () => {
    state.ingest({ payload: Buffer.from([0x89, 0x50, 0x4e, 0x47]), heatmap: { cameraId: 'api-test', format: 'png', showsPeople: true } });
    const res = await get(port, '/api/cameras/api-test/heatmap');
    assert.deepEqual([res.status, res.type, res.body.length], [200, 'image/png', 4]);
  });

  it('in privacy mode, refuses heatmaps in which people can be seen', async () => {
    const privateState = new ApiState();
    privateState.ingest({ payload: Buffer.from([1]), heatmap: { cameraId: 'c', format: 'png', showsPeople: true } });
    const api = createApi({ state: privateState, basePath: '/api', metrics: () => null, sales: () => null, quality: 80, privacy: true, startedAt: now });
    const privateServer = createServer((req, res) => api.handle(req, res));
    await new Promise<void>((resolve) => privateServer.listen(0, '127.0.0.1', resolve));
    const privatePort = (privateServer.address() as AddressInfo).port;
    const noSales = await get(privatePort, '/conversion');
    assert.equal(noSales.status, 404);
    assert.match(JSON.parse(noSales.body.toString()).error, /wire a pos-conversion node/);
    const refused = await get(privatePort, '/cameras/c/heatmap');
    assert.equal(refused.status, 403);
    assert.match(JSON.parse(refused.body.toString()).error, /turn on Privacy in the heatmap node/);
    privateState.ingest({ payload: Buffer.from([2]), heatmap: { cameraId: 'c', format: 'png', showsPeople: false } });
    assert.equal((await get(privatePort, '/cameras/c/heatmap')).status, 200);
    privateServer.close();
  });

  it('shows a fleet camera (msg.fleet from fleet-aggregate) with its instance, offline when its worker is, and its shared frame', async () => {
    const fleetState = new ApiState();
    const fleet = { aggregator: 'agg', instance: 'w1', online: true, name: 'Entrance', state: 'running', fps: 9.5, width: 768, height: 576, lastFrameAt: now, framesProcessed: 40, activeTracks: 3, detection: { fps: 5 }, publishedAt: now };
    fleetState.ingest({ cameraId: 'w1-door', zones: [{ id: 'door', currentCount: 2, totalEntries: 9, totalExits: 7 }], lines: [], occupancy: 3, fleet });
    const api = createApi({ state: fleetState, basePath: '/api', metrics: () => null, sales: () => null, quality: 80, privacy: false, startedAt: now });
    const fleetServer = createServer((req, res) => api.handle(req, res));
    await new Promise<void>((resolve) => fleetServer.listen(0, '127.0.0.1', resolve));
    const at = (fleetServer.address() as AddressInfo).port;
    const json = async (path: string) => JSON.parse((await get(at, path)).body.toString());
    try {
      const [camera] = await json('/cameras');
      assert.deepEqual([camera.id, camera.instance, camera.name, camera.state, camera.fps, camera.framesProcessed, camera.activeTracks, camera.source], ['w1-door', 'w1', 'Entrance', 'running', 9.5, 40, 3, null]);
      const noFrame = await get(at, '/cameras/w1-door/frame');
      assert.equal(noFrame.status, 404);
      assert.match(JSON.parse(noFrame.body.toString()).error, /turn on frame sharing in the fleet-publish node of instance "w1"/);
      fleetState.ingest({ cameraId: 'w1-door', payload: Buffer.from([0xff, 0xd8, 0xff]), fleet: { ...fleet, image: 'frame' } });
      const frame = await get(at, '/cameras/w1-door/frame');
      assert.deepEqual([frame.status, frame.type, frame.body.length], [200, 'image/jpeg', 3]);
      fleetState.ingest({ cameraId: 'w1-door', zones: [{ id: 'door', currentCount: 0, totalEntries: 9, totalExits: 7 }], lines: [], occupancy: 0, fleet: { ...fleet, online: false } });
      const health = await json('/health');
      assert.deepEqual(health.cameras.map((c: { id: string; instance: string; state: string; fps: number }) => [c.id, c.instance, c.state, c.fps]), [['w1-door', 'w1', 'offline', 0]]);
      assert.deepEqual(health.instances, [{ name: 'w1', cameras: 1, online: 0 }]);
      assert.deepEqual((await json('/zones'))[0].zones[0].totalEntries, 9, 'an offline camera keeps its totals');
      assert.throws(() => fleetState.ingest({ cameraId: 'w1-door', fleet: 'w1' }), /msg.fleet must be an object/);
      assert.throws(() => fleetState.ingest({ cameraId: 'w1-door', fleet: { instance: 'w1' } }), /needs the aggregator and instance/);
    } finally {
      fleetServer.close();
    }
  });

  it('health tells the truth: ok only with every camera fresh and every model ready, 503 when down or, with ?strict, when degraded', async () => {
    const healthState = new ApiState();
    const fresh = Date.now();
    healthState.ingest({ frame: { cameraId: 'door', seq: 1, timestamp: fresh, width: 64, height: 48, dropped: 0 } });
    healthState.ingest({ frame: { cameraId: 'till', seq: 1, timestamp: fresh - 30_000, width: 64, height: 48, dropped: 0 } });
    const fleet = { aggregator: 'agg', instance: 'w2', online: false, name: 'Back', state: 'running', fps: 9, width: 64, height: 48, lastFrameAt: fresh - 60_000, framesProcessed: 4, activeTracks: 0, detection: null, publishedAt: fresh - 60_000 };
    healthState.ingest({ cameraId: 'w2-back', fleet });
    let condition: ModelCondition = { state: 'restarting', error: 'yolov8n.onnx: the model\'s worker thread stopped (exit code 1); starting it again', restarts: 0, runtime: null, runtimeFallback: null };
    detectionRegistry.addModel('health-model', { name: 'YOLOv8n', usage: () => null, condition: () => condition });
    const api = createApi({ state: healthState, basePath: '/api', metrics: () => null, sales: () => null, quality: 80, privacy: false, startedAt: fresh });
    const healthServer = createServer((req, res) => api.handle(req, res));
    await new Promise<void>((resolve) => healthServer.listen(0, '127.0.0.1', resolve));
    const at = (healthServer.address() as AddressInfo).port;
    const read = async (path = '/health') => {
      const res = await get(at, path);
      return { status: res.status, body: JSON.parse(res.body.toString()) };
    };
    try {
      let { status, body } = await read();
      assert.deepEqual([status, body.status], [200, 'degraded'], 'one camera of three still delivers');
      assert.deepEqual(body.problems.map((p: { kind: string; id: string; problem: string }) => [p.kind, p.id, p.problem.replace(/\d+ s/, 'N s')]), [
        ['camera', 'till', 'no frame for N s'],
        ['camera', 'w2-back', 'offline'],
        ['model', 'health-model', 'restarting: yolov8n.onnx: the model\'s worker thread stopped (exit code 1); starting it again'],
      ]);
      assert.deepEqual(body.cameras.map((c: { id: string; problem: string | null }) => [c.id, c.problem === null]), [['door', true], ['till', false], ['w2-back', false]]);
      assert.equal((await read('/health?strict')).status, 503, 'a probe that wants everything ok');
      assert.equal((await read('/health?strict=false')).status, 200);

      condition = { state: 'failed', error: 'cannot read model file', restarts: 0, runtime: null, runtimeFallback: null };
      ({ status, body } = await read());
      assert.deepEqual([status, body.status], [503, 'down'], 'no model can detect');

      condition = { state: 'ready', error: null, restarts: 1, runtime: 'native', runtimeFallback: null };
      healthState.ingest({ frame: { cameraId: 'till', seq: 2, timestamp: Date.now(), width: 64, height: 48, dropped: 0 } });
      healthState.ingest({ cameraId: 'w2-back', fleet: { ...fleet, online: true } });
      ({ status, body } = await read('/health?strict'));
      assert.deepEqual([status, body.status, body.problems], [200, 'ok', []]);
      assert.equal(body.detectors[0].restarts, 1);

      healthState.ingest({ frame: { cameraId: 'door', seq: 2, timestamp: Date.now() - 20_000, width: 64, height: 48, dropped: 0 } });
      healthState.ingest({ frame: { cameraId: 'till', seq: 3, timestamp: Date.now() - 20_000, width: 64, height: 48, dropped: 0 } });
      healthState.ingest({ cameraId: 'w2-back', fleet: { ...fleet, state: 'failed', online: true } });
      ({ status, body } = await read());
      assert.deepEqual([status, body.status], [503, 'down'], 'no camera delivers');
    } finally {
      detectionRegistry.removeModel('health-model');
      healthServer.close();
    }
  });

  it('keeps at most its maximum of cameras', () => {
    const small = new ApiState(2);
    small.ingest({ cameraId: 'a' });
    small.ingest({ cameraId: 'b' });
    assert.throws(() => small.ingest({ cameraId: 'c' }), /already serving 2 cameras/);
  });
});

describe('LiveHub', () => {
  it('drops frames for a client that does not read, instead of queueing them', async () => {
    const { LiveHub } = await import('../src/api/live');
    const { default: WebSocket } = await import('ws');
    const big = Buffer.alloc(256 * 1024, 1);
    const hub = new LiveHub({ render: async () => big, tick: () => ({}), maxBufferedBytes: 512 * 1024 });
    const server = createServer();
    server.on('upgrade', (req, socket, head) => hub.accept(req, socket, head, { kind: 'stream', cameraId: 'cam' }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    await new Promise((resolve) => client.once('message', resolve));
    // The client stops reading: frames pile up in the kernel buffers, then in the server's send buffer.
    (client as unknown as { _socket: { pause(): void } })._socket.pause();
    for (let i = 0; i < 200; i++) {
      hub.frame('cam');
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(hub.dropped > 0, 'frames were dropped for the slow client');
    assert.ok(hub.dropped > 100, `most frames dropped (${hub.dropped})`);
    client.terminate();
    hub.close();
    server.close();
  });
});
