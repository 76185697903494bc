import { strict as assert } from 'node:assert';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApi } from '../src/api/http';
import { ApiState } from '../src/api/state';
import { detectionRegistry } from '../src/detection/usage-registry';
import { Detector, spareCameras, SupersededError, type DetectorUsage } from '../src/detection/detector';
import { inferenceCopies, type YoloModel } from '../src/detection/model';
import { MotionDetector } from '../src/detection/motion';
import { CameraSchedule, DEFAULT_SCHEDULE_OPTIONS, validateScheduleOptions } from '../src/detection/schedule';
import type { RgbImage } from '../src/types';

/** A stand-in model that takes `ms` per run, one image per run, and finds nothing. */
function slowModel(ms: number) {
  const runs: number[] = [];
  const model = {
    inputWidth: 8,
    inputHeight: 8,
    maxBatch: 1,
    labelOf: (id: number) => `class ${id}`,
    health: () => ({ state: 'ready', restarts: 0, lastError: null }),
    async run(_input: Float32Array, batch: number) {
      runs.push(batch);
      await new Promise((resolve) => setTimeout(resolve, ms));
      // The network's own time, as the worker thread measures it: here a fixed part of the run.
      return { channels: 5, images: Array.from({ length: batch }, () => ({ data: new Float32Array(5), anchors: 1 })), input: _input, runMs: ms * 0.75 };
    },
    release: async () => undefined,
  };
  return { model: model as unknown as YoloModel, runs };
}

const tiny = (): RgbImage => ({ pixels: new Uint8Array(8 * 8 * 3), width: 8, height: 8 });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Detector: one model shared fairly between cameras', () => {
  it('keeps only the newest waiting frame of a camera and fails the replaced one with SupersededError', async () => {
    const { model } = slowModel(20);
    const detector = new Detector(model);
    const first = detector.detect(tiny(), undefined, 'a');
    const replaced = detector.detect(tiny(), undefined, 'a');
    const newest = detector.detect(tiny(), undefined, 'a');
    await assert.rejects(replaced, (err: Error) => err instanceof SupersededError && /newer frame of "a"/.test(err.message));
    await Promise.all([first, newest]);
    const [stream] = detector.usage().streams;
    assert.deepEqual([stream.stream, stream.processed, stream.superseded], ['a', 2, 1]);
    await detector.close();
  });

  it('serves the camera served longest ago first, so a camera sending fast cannot starve one sending slowly', async () => {
    const { model } = slowModel(10);
    const detector = new Detector(model);
    const served: string[] = [];
    const offer = (camera: string) =>
      detector.detect(tiny(), undefined, camera).then(
        () => void served.push(camera),
        (err: Error) => assert.ok(err instanceof SupersededError),
      );
    // "fast" offers a frame every 2 ms, "slow" one every 25 ms, for 400 ms; the model takes 10 ms a frame.
    const offers: Promise<void>[] = [];
    const fast = setInterval(() => offers.push(offer('fast')), 2);
    const slow = setInterval(() => offers.push(offer('slow')), 25);
    await sleep(400);
    clearInterval(fast);
    clearInterval(slow);
    await Promise.all(offers);
    const count = (camera: string) => served.filter((c) => c === camera).length;
    // The slow camera gets every frame it sends (about 16), the fast one the rest of the model's time.
    assert.ok(count('slow') >= 12, `slow camera served ${count('slow')} times`);
    assert.ok(count('fast') >= count('slow'), `fast camera served ${count('fast')} times`);
    // Never two turns of the fast camera in a row while the slow one had a frame waiting: the slow one waited at most one run.
    const usage = detector.usage();
    const slowUsage = usage.streams.find((s) => s.stream === 'slow')!;
    assert.equal(slowUsage.superseded, 0, 'no frame of the slow camera was replaced');
    assert.ok(usage.streams.find((s) => s.stream === 'fast')!.superseded > 0, "the fast camera's surplus frames were dropped and counted");
    await detector.close();
  });

  it('with many cameras and a saturated model, every camera gets a similar share', async () => {
    const { model } = slowModel(5);
    const detector = new Detector(model);
    const cameras = ['a', 'b', 'c', 'd'];
    const timers = cameras.map((camera) => setInterval(() => detector.detect(tiny(), undefined, camera).catch(() => undefined), 1));
    await sleep(300);
    timers.forEach(clearInterval);
    await sleep(20);
    const processed = detector.usage().streams.map((s) => s.processed);
    assert.equal(processed.length, 4);
    assert.ok(Math.min(...processed) / Math.max(...processed) >= 0.8, `processed per camera: ${processed.join(', ')}`);
    await detector.close();
  });

  it('runs one request on each copy of the model side by side, passes over a copy being restarted, and counts both copies\' capacity', async () => {
    const copies = [slowModel(100), slowModel(100)];
    const detector = new Detector(copies.map((c) => c.model));
    const started = performance.now();
    await Promise.all(['a', 'b', 'c', 'd'].map((camera) => detector.detect(tiny(), undefined, camera)));
    const elapsed = performance.now() - started;
    assert.deepEqual(copies.map((c) => c.runs.length), [2, 2], 'each copy ran two of the four');
    assert.ok(elapsed < 350, `four 100 ms runs on two copies took ${elapsed.toFixed(0)} ms, not about 400`);
    const usage = detector.usage();
    // Timers may fire a fraction of a millisecond early, so a 100 ms run can measure 99.9 ms.
    assert.ok(usage.ceilingFps! > 15 && usage.ceilingFps! <= 20.5, `ceiling ${usage.ceilingFps} images/s: two copies at 10 each`);
    // The second copy's worker thread died: while it is being started again, the first serves everything.
    (copies[1].model as unknown as { health: () => object }).health = () => ({ state: 'restarting', restarts: 1, lastError: 'worker exited' });
    await Promise.all(['a', 'b'].map((camera) => detector.detect(tiny(), undefined, camera)));
    assert.deepEqual(copies.map((c) => c.runs.length), [4, 2]);
    assert.deepEqual(detector.health(), { state: 'restarting', restarts: 1, lastError: 'worker exited' });
    await detector.close();
  });


  it("answers a camera's frames in the order they were sent, when a later frame finishes first on another copy", async () => {
    const slow = slowModel(80);
    const fast = slowModel(5);
    const failing = { ...fast.model, run: async () => Promise.reject(new Error('the worker thread died')) } as unknown as YoloModel;
    for (const second of [fast.model, failing]) {
      const detector = new Detector([slow.model, second]);
      const answers: string[] = [];
      const answer = (frame: number) => (outcome: unknown) => void answers.push(`${frame} ${outcome instanceof Error ? 'failed' : 'detected'}`);
      const first = detector.detect(tiny(), undefined, 'door').then(answer(1), answer(1));
      await sleep(1);
      const next = detector.detect(tiny(), undefined, 'door').then(answer(2), answer(2));
      // Another camera's answer does not wait for the door's.
      const other = detector.detect(tiny(), undefined, 'till').then(() => void answers.push('till'), () => void answers.push('till'));
      await Promise.all([first, next, other]);
      assert.deepEqual(answers.filter((a) => a !== 'till'), ['1 detected', second === failing ? '2 failed' : '2 detected']);
      await detector.close();
    }
  });
  it('reports how busy the model is, its time per image, and each stream’s share', async () => {
    // Runs long beside the letterbox between them, so the busy fraction holds on a loaded machine too.
    const { model } = slowModel(200);
    const detector = new Detector(model);
    await detector.detect(tiny(), undefined, 'a');
    await detector.detect(tiny(), undefined, 'b');
    await detector.detect(tiny(), undefined, 'a');
    const usage = detector.usage();
    assert.ok(usage.msPerImage! >= 195 && usage.msPerImage! < 400, `ms per image ${usage.msPerImage}`);
    assert.equal(usage.runMsPerImage, 150, "the network's own time per image, apart from handing images over");
    assert.ok(usage.busy > 0.5 && usage.busy <= 1, `busy ${usage.busy}`);
    const shares = Object.fromEntries(usage.streams.map((s) => [s.stream, +s.share.toFixed(1)]));
    assert.deepEqual(shares, { a: 0.7, b: 0.3 });
    await detector.close();
  });

  it('runs one 1-thread copy of the model per core on a CPU, at most four, and keeps what the user set', () => {
    const copies = (copies: number, threads: number, cores: number, executionProvider = 'cpu') => inferenceCopies({ copies, threads, executionProvider, cores });
    assert.deepEqual(copies(0, 0, 2), { copies: 2, threads: 1 });
    assert.deepEqual(copies(0, 0, 1), { copies: 1, threads: 1 });
    assert.deepEqual(copies(0, 0, 16), { copies: 4, threads: 4 }, 'beyond four copies, more threads each');
    assert.deepEqual(copies(0, 2, 8), { copies: 4, threads: 2 });
    assert.deepEqual(copies(0, 4, 2), { copies: 1, threads: 4 });
    assert.deepEqual(copies(3, 0, 2), { copies: 3, threads: 0 }, 'a set number of copies is kept');
    assert.deepEqual(copies(0, 0, 8, 'cuda'), { copies: 1, threads: 0 }, 'a GPU gets one copy');
  });

  it('estimates spare cameras from the idle time', () => {
    const usage = (busy: number, msPerImage: number | null): DetectorUsage => ({ busy, msPerImage, ceilingFps: msPerImage && 1000 / msPerImage, fps: 0, runMsPerImage: msPerImage, streams: [], windowSeconds: 10 });
    assert.equal(spareCameras(usage(0, 40), 5), 5, '25 images/s idle → 5 cameras at 5 fps');
    assert.equal(spareCameras(usage(0.6, 40), 5), 2, '10 images/s left → 2 cameras');
    assert.equal(spareCameras(usage(1, 40), 5), 0);
    assert.equal(spareCameras(usage(0, null), 5), null, 'unknown before the first run');
  });
});

describe('CameraSchedule: which frames to detect, by capture time', () => {
  const frame = tiny();
  const decide = (schedule: CameraSchedule, times: number[]) => times.map((t) => schedule.decide(t, frame));

  it('takes every other frame of a 10 fps camera at 5 fps, despite jitter', () => {
    const schedule = new CameraSchedule({ ...DEFAULT_SCHEDULE_OPTIONS, detectFps: 5 });
    const times = Array.from({ length: 20 }, (_, i) => i * 100 + (i % 3 === 0 ? 4 : -3));
    const detected = decide(schedule, times).filter((d) => d === 'detect').length;
    assert.equal(detected, 10);
    assert.deepEqual(schedule.stats().detectFps, 5);
    assert.ok(Math.abs(schedule.stats().sourceFps! - 10) < 0.5);
  });

  it('takes every fifth frame of a 25 fps camera at 5 fps, and the same share whatever the frame rate', () => {
    for (const sourceFps of [25, 30, 12.5]) {
      const schedule = new CameraSchedule({ ...DEFAULT_SCHEDULE_OPTIONS, detectFps: 5 });
      const times = Array.from({ length: sourceFps * 10 }, (_, i) => (i * 1000) / sourceFps);
      const detected = decide(schedule, times).filter((d) => d === 'detect').length;
      assert.ok(Math.abs(detected - 50) <= 1, `${sourceFps} fps: ${detected} of 10 s detected`);
    }
  });

  it('detects every frame of a camera slower than the rate, and every frame with rate 0', () => {
    const slow = new CameraSchedule({ ...DEFAULT_SCHEDULE_OPTIONS, detectFps: 5 });
    assert.deepEqual(decide(slow, [0, 500, 1000, 1500]), ['detect', 'detect', 'detect', 'detect']);
    assert.equal(slow.stats().detectFps, 2);
    const every = new CameraSchedule(DEFAULT_SCHEDULE_OPTIONS);
    assert.deepEqual(decide(every, [0, 10, 20]), ['detect', 'detect', 'detect']);
  });

  it('detects faster while someone is near a line, back to the rate after, and counts the frames it added', () => {
    const schedule = new CameraSchedule({ ...DEFAULT_SCHEDULE_OPTIONS, detectFps: 5, boostFps: 25 });
    // A 25 fps camera: 2 s far from any line, 1 s near one, 2 s far again.
    const near = (i: number) => i >= 50 && i < 75;
    const decisions = Array.from({ length: 125 }, (_, i) => schedule.decide(i * 40, frame, near(i)));
    const detected = (from: number, to: number) => decisions.slice(from, to).filter((d) => d === 'detect').length;
    assert.deepEqual([detected(0, 50), detected(50, 75), detected(75, 125)], [10, 25, 10], '5 a second, every frame near the line, then 5 a second');
    assert.equal(schedule.stats().boosted, 25);
    assert.equal(schedule.stats().detectFps, 5, 'the rate reported is the set one');
    // The faster rate applies only above a set rate: blank (every frame) and a lower "faster" rate change nothing.
    for (const options of [{ detectFps: 0, boostFps: 2 }, { detectFps: 10, boostFps: 5 }]) {
      const unchanged = new CameraSchedule({ ...DEFAULT_SCHEDULE_OPTIONS, ...options });
      const kept = Array.from({ length: 50 }, (_, i) => unchanged.decide(i * 40, frame, true)).filter((d) => d === 'detect').length;
      assert.equal(kept, options.detectFps === 0 ? 50 : 20);
      assert.equal(unchanged.stats().boosted, 0);
    }
  });

  it('refuses settings it cannot use', () => {
    assert.throws(() => validateScheduleOptions({ ...DEFAULT_SCHEDULE_OPTIONS, boostFps: -5 }), /the rate near lines must be from 0 \(off\) to 1000 per second, got -5/);
    assert.throws(() => validateScheduleOptions({ ...DEFAULT_SCHEDULE_OPTIONS, detectFps: -1 }), /detection rate/);
    assert.throws(() => validateScheduleOptions({ ...DEFAULT_SCHEDULE_OPTIONS, keepAliveSeconds: 0 }), /keep-alive/);
    assert.throws(() => validateScheduleOptions({ ...DEFAULT_SCHEDULE_OPTIONS, motion: { threshold: 0, minArea: 0.001, backgroundSeconds: 1 } }), /motion threshold/);
  });
});

/** A grey 320x240 frame with a dark 40x80 block (a person) at x, or none. */
function scene(x: number | null): RgbImage {
  const width = 320;
  const height = 240;
  const pixels = new Uint8Array(width * height * 3).fill(160);
  if (x !== null) {
    for (let y = 100; y < 180; y++) pixels.fill(30, (y * width + x) * 3, (y * width + x + 40) * 3);
  }
  return { pixels, width, height };
}

describe('Motion gating', () => {
  it('sees no motion in a still scene and motion where a block moves', () => {
    const motion = new MotionDetector();
    assert.equal(motion.check(scene(null), 0).moved, true, 'the first frame counts as motion');
    for (let t = 1; t <= 10; t++) assert.equal(motion.check(scene(null), t * 100).moved, false);
    assert.equal(motion.check(scene(50), 1100).moved, true);
    assert.equal(motion.check(scene(60), 1200).moved, true);
  });

  it('ignores noise below the threshold and changes smaller than the smallest area', () => {
    const motion = new MotionDetector({ minArea: 0.01 });
    motion.check(scene(null), 0);
    const noisy = scene(null);
    noisy.pixels.forEach((_, i) => (noisy.pixels[i] = 160 + ((i * 7919) % 21) - 10));
    assert.equal(motion.check(noisy, 100).moved, false, '±10 grey levels of noise');
    const speck = scene(null);
    for (let y = 10; y < 14; y++) speck.pixels.fill(0, (y * 320 + 10) * 3, (y * 320 + 14) * 3);
    assert.equal(motion.check(speck, 200).moved, false, 'a 4x4 speck is below 1 % of the frame');
  });

  it('lets a person who stopped fade into the background', () => {
    const motion = new MotionDetector({ backgroundSeconds: 0.5 });
    motion.check(scene(null), 0);
    assert.equal(motion.check(scene(100), 100).moved, true);
    let t = 100;
    let stillAfter = 0;
    while (motion.check(scene(100), (t += 100)).moved) stillAfter = t;
    assert.ok(stillAfter > 200 && stillAfter <= 3000, `still after ${stillAfter} ms`);
  });

  it('skips still frames but detects at least once per keep-alive, and every frame that moves', () => {
    const schedule = new CameraSchedule({ detectFps: 0, motion: { threshold: 25, minArea: 0.001, backgroundSeconds: 0.5 }, keepAliveSeconds: 2, boostFps: 0 });
    const decisions: string[] = [];
    // 10 s still at 10 fps, then a block walking for 1 s.
    for (let i = 0; i < 100; i++) decisions.push(schedule.decide(i * 100, scene(null)));
    for (let i = 0; i < 10; i++) decisions.push(schedule.decide(10000 + i * 100, scene(20 + i * 20)));
    const detectedStill = decisions.slice(0, 100).filter((d) => d === 'detect').length;
    assert.equal(decisions[0], 'detect');
    assert.equal(detectedStill, 5, 'the first frame, then one every 2 s');
    assert.deepEqual(decisions.slice(100), Array(10).fill('detect'));
    assert.equal(schedule.stats().still, 95, 'detector calls saved are counted');
  });
});

describe('Capacity in the API', () => {
  let server: Server;
  let port: number;

  before(async () => {
    const state = new ApiState();
    state.ingest({ frame: { cameraId: 'till', seq: 7, timestamp: Date.now(), width: 64, height: 48, dropped: 0 }, tracks: [] });
    const usage = (): DetectorUsage => ({ busy: 0.6, msPerImage: 40, ceilingFps: 25, fps: 15, runMsPerImage: 36, streams: [], windowSeconds: 10 });
    detectionRegistry.addModel('model-1', { name: 'YOLOv8n', usage, condition: () => ({ state: 'ready', error: null, restarts: 0, runtime: 'native', runtimeFallback: null }) });
    detectionRegistry.addReporter('detect-1', () => [
      { cameraId: 'till', model: 'model-1', motionGating: true, frames: 100, detect: 40, rate: 50, still: 10, boosted: 0, sourceFps: 10, detectFps: 5, fps: 4.8, share: 1, processed: 39, superseded: 1, stale: 0 },
    ]);
    const api = createApi({ state, basePath: '/api', metrics: () => null, sales: () => null, quality: 80, privacy: false, startedAt: Date.now() });
    server = createServer((req, res) => {
      req.url = req.url!.slice(4) || '/';
      api.handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    detectionRegistry.removeModel('model-1');
    detectionRegistry.removeReporter('detect-1');
    server.close();
  });

  it("shows each model's load and spare cameras in /api/health, and each camera's detection figures", async () => {
    const health = (await (await fetch(`http://127.0.0.1:${port}/api/health`)).json()) as Record<string, any>;
    assert.deepEqual(health.detectors, [{ id: 'model-1', name: 'YOLOv8n', state: 'ready', error: null, restarts: 0, runtime: 'native', runtimeFallback: null, input: null, precision: null, inputNote: null, busy: 0.6, msPerImage: 40, runMsPerImage: 36, ceilingFps: 25, fps: 15, cameras: 1, detectFps: 5, spareCameras: 2 }]);
    assert.deepEqual([health.cameras[0].id, health.cameras[0].detection.still, health.cameras[0].detection.superseded], ['till', 10, 1]);
    const [camera] = (await (await fetch(`http://127.0.0.1:${port}/api/cameras`)).json()) as Record<string, any>[];
    assert.deepEqual([camera.detection.fps, camera.detection.detectFps, camera.detection.motionGating, camera.detection.rate], [4.8, 5, true, 50]);
  });

  it('describes the figures in the OpenAPI document', async () => {
    const doc = (await (await fetch(`http://127.0.0.1:${port}/api/openapi.json`)).json()) as Record<string, any>;
    assert.ok(doc.components.schemas.Detector.properties.spareCameras);
    assert.ok(doc.components.schemas.Detection.properties.still);
  });
});
