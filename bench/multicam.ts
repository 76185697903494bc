/**
 * How many cameras one box carries. For 1, 2, 4 and 8 copies of vtest.avi, Node-RED runs (as `npm start` runs it)
 * the full pipeline with one shared model: camera-source → yolo-detect → sort-track → zone-analytics and heatmap →
 * api-out, with one WebSocket client watching each camera's annotated video. Each copy plays in real time at its
 * 10 frames per second; modes: flat out (every frame offered to detection, as fast as the model goes), NVR-like
 * (detection rate 5 per camera), camera 5 fps (camera-source's Frame rate 5, every frame of those detected: FFmpeg
 * drops the other frames after decoding, before they are converted, piped and copied), and flat out at 25 fps (an
 * H.264 copy of vtest.avi played 2.5 times as fast, made once in a temporary directory: an IP camera's frame rate,
 * so that even two cameras offer the model more frames than it can detect).
 *
 * After a warm-up, the figures of a 20-second window come from api-out's /api/health: frames detected per camera,
 * frames dropped (replaced while waiting for the model, or discarded by the camera), the model's time per image,
 * and the event-loop delay (p99 of the last 10 s). The ceiling is 1 ÷ the bare ONNX Runtime run time of one image,
 * measured in this process just before each configuration with Node-RED stopped.
 * Each configuration runs with the model's copies (yolo-model Copies) as given: 1 and automatic (one per core) by
 * default, so their capacities compare in one run; and with each model variant given (yolo-model Input shape and
 * Precision): the square float model as exported, and the fitted int8 one the examples use (measured once the
 * node has made and checked it). The model's capacity is /api/health's ceilingFps (all copies, from their busy
 * time in the pipeline), compared with the bare ceiling: one fp32 640×640 session on every core.
 * The mode `example` runs examples/multi-camera.json as shipped (its two sample cameras, detection rate 5, motion
 * gating), with only the model's copies and variant set.
 * Usage: node dist/bench/multicam.js [camera counts, e.g. 1,2,4,8] [copies, e.g. 1,0 (0 = automatic)]
 *        [variants, e.g. square-fp32,fit-int8] [modes: flat,flat25,detect5,camera5,example; default flat,detect5]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { ffmpegExecutable } from '../src/camera/ffmpeg';
import { findSampleFile } from '../src/camera/source';
import { DEFAULT_MODEL_PATH, YoloModel } from '../src/detection/model';
import type { CameraDetectionReport, ModelReport } from '../src/detection/usage-registry';

const ROOT = path.resolve(__dirname, '..', '..');
const WARM_UP_MS = 15_000;
const WINDOW_MS = 20_000;

interface Mode {
  name: string;
  video: string;
  /** Frames per second the video plays at. */
  videoFps: number;
  detectFps: number | '';
  /** camera-source's Frame rate (0: every frame of the video). */
  cameraFps: number;
  /** A shipped example flow run as it is, instead of copies of vtest.avi (its cameras, rates and model settings). */
  example?: string;
}

interface Health {
  cameras: { id: string; detection: CameraDetectionReport | null }[];
  detectors: ModelReport[];
  eventLoopDelay: { p99Ms: number; gcMsPerSecond: number } | null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Temporary directories this run made, removed at its end. */
const scratchDirs: string[] = [];

/** vtest.avi as a 25 fps H.264 camera would send it: every frame, shown 2.5 times as fast. Made once per run. */
function fasterCopy(video: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'multicam-video-'));
  scratchDirs.push(dir);
  const file = path.join(dir, 'vtest-25fps.mp4');
  execFileSync(ffmpegExecutable(), ['-v', 'error', '-i', video, '-vf', 'setpts=PTS/2.5', '-r', '25', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-an', file]);
  return file;
}

async function bareInferenceMs(model: YoloModel): Promise<number> {
  // A run takes its tensor's memory (it moves to the model's worker thread): one prepared tensor per run.
  const tensors = Array.from({ length: 18 }, () => new Float32Array(3 * model.inputWidth * model.inputHeight).fill(0.5));
  for (const tensor of tensors.splice(0, 3)) await model.run(tensor, 1);
  const started = performance.now();
  for (const tensor of tensors) await model.run(tensor, 1);
  return (performance.now() - started) / tensors.length;
}

interface Variant {
  inputShape: 'square' | 'fit';
  precision: 'fp32' | 'int8';
}

function parseVariant(text: string): Variant {
  const [inputShape, precision] = text.split('-');
  if ((inputShape !== 'square' && inputShape !== 'fit') || (precision !== 'fp32' && precision !== 'int8')) throw new Error(`unknown variant "${text}": square|fit-fp32|int8`);
  return { inputShape, precision };
}

/** The example as a user deploys it, with its model's copies and variant set as measured. */
function exampleFlow(name: string, copies: number, variant: Variant): { flows: unknown[]; cameras: string[] } {
  const flows = JSON.parse(readFileSync(path.join(ROOT, 'examples', `${name}.json`), 'utf8')) as { type: string; d?: boolean; cameraId?: string }[];
  const cameras = flows.filter((n) => n.type === 'camera-source' && !n.d).map((n) => n.cameraId!);
  return { flows: flows.map((n) => (n.type === 'yolo-model' ? { ...n, copies, ...variant } : n)), cameras };
}

function flow({ video, detectFps, cameraFps }: Mode, cameras: number, copies: number, variant: Variant): unknown[] {
  const example = JSON.parse(readFileSync(path.join(ROOT, 'examples', 'full-pipeline.json'), 'utf8')) as { type: string; layout?: string }[];
  const layout = example.find((n) => n.type === 'zone-analytics')!.layout;
  const ids = Array.from({ length: cameras }, (_, i) => `cam${i + 1}`);
  return [
    { id: 'tab', type: 'tab', label: 'multicam' },
    { id: 'model', type: 'yolo-model', name: 'YOLOv8n', modelPath: '', threads: 0, copies, inputSize: 0, maxBatch: 4, executionProvider: 'cpu', ...variant },
    // Node ids differ from camera ids: Node-RED takes a property equal to a node id for a reference to that node.
    ...ids.map((id) => ({ id: `source-${id}`, type: 'camera-source', z: 'tab', cameraId: id, source: video, loop: true, realtime: true, width: 0, height: 0, fps: cameraFps, autostart: true, ffmpegPath: '', wires: [['detect']] })),
    { id: 'detect', type: 'yolo-detect', z: 'tab', model: 'model', confidence: 0.1, iou: 0.45, classes: 'person', maxMegapixels: 50, detectFps, motionGating: false, wires: [['track']] },
    { id: 'track', type: 'sort-track', z: 'tab', algorithm: 'bytetrack', trackThresh: 0.6, matchThresh: 0.9, trackBuffer: 30, frameRate: '', trailLength: 30, wires: [['zones', 'heatmap'], ['api']] },
    { id: 'zones', type: 'zone-analytics', z: 'tab', layout, anchor: 'bottom-center', trackTimeoutSeconds: 2, relinkSeconds: 2, relinkDistance: 0.5, timeZone: 'UTC', persist: false, wires: [['api'], ['api']] },
    { id: 'heatmap', type: 'heatmap', z: 'tab', cellSize: 8, decay: 0.99, sigma: 20, every: 50, format: 'png', quality: 80, overlay: true, opacity: 0.6, longTerm: false, anchor: 'bottom-center', privacy: false, wires: [['api']] },
    { id: 'api', type: 'api-out', z: 'tab', basePath: '/api', quality: 80, privacy: false, database: '', wires: [] },
  ];
}

async function startNodeRed(flows: unknown[], port: number): Promise<{ red: ChildProcess; userDir: string }> {
  const userDir = mkdtempSync(path.join(tmpdir(), 'multicam-'));
  const flowFile = path.join(userDir, 'import.json');
  writeFileSync(flowFile, JSON.stringify(flows));
  const env = { ...process.env, PORT: String(port), DEMO_USER_DIR: userDir, DEMO_FLOW_FILE: flowFile };
  const red = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  red.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  red.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  for (let waited = 0; !/Started flows/.test(output); waited += 100) {
    if (red.exitCode !== null || waited > 60_000) throw new Error(`Node-RED did not start:\n${output}`);
    await sleep(100);
  }
  return { red, userDir };
}

async function health(port: number): Promise<Health> {
  return (await (await fetch(`http://127.0.0.1:${port}/api/health`)).json()) as Health;
}

async function measure(mode: Mode, count: number, ceilingFps: number, port: number, copies: number, variant: Variant) {
  const example = mode.example ? exampleFlow(mode.example, copies, variant) : null;
  const cameraIds = example?.cameras ?? Array.from({ length: count }, (_, i) => `cam${i + 1}`);
  const cameras = cameraIds.length;
  const { red, userDir } = await startNodeRed(example?.flows ?? flow(mode, cameras, copies, variant), port);
  const clients: WebSocket[] = [];
  try {
    for (let waited = 0; ; waited += 250) {
      const h = await health(port).catch(() => null);
      if (h && h.cameras.filter((c) => (c.detection?.processed ?? 0) > 0).length === cameras) break;
      if (waited > 60_000) throw new Error('the cameras did not all reach the API');
      await sleep(250);
    }
    // A fitted or int8 model is made and checked after the cameras start: measured once it has taken over.
    const asExported = variant.inputShape === 'square' && variant.precision === 'fp32';
    let model = (await health(port)).detectors[0];
    for (let waited = 0; !asExported && model.inputNote === null; waited += 500) {
      if (waited > 120_000) throw new Error('the model variant was not made within 2 minutes');
      await sleep(500);
      model = (await health(port)).detectors[0];
    }
    const framesSeen = new Array<number>(cameras).fill(0);
    for (let i = 0; i < cameras; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws/stream/${cameraIds[i]}`);
      ws.on('message', () => framesSeen[i]++);
      ws.on('error', () => undefined);
      clients.push(ws);
    }
    await sleep(WARM_UP_MS);
    const before = await health(port);
    const started = performance.now();
    await sleep(WINDOW_MS);
    const after = await health(port);
    const seconds = (performance.now() - started) / 1000;
    const figures = (h: Health, id: string) => h.cameras.find((c) => c.id === id)!.detection!;
    const perCamera = after.cameras.map((c) => (figures(after, c.id).processed - figures(before, c.id).processed) / seconds);
    const dropped = after.cameras.reduce((sum, c) => {
      const [a, b] = [figures(after, c.id), figures(before, c.id)];
      return sum + a.superseded + a.stale - b.superseded - b.stale;
    }, 0);
    const total = perCamera.reduce((a, b) => a + b, 0);
    return {
      total,
      perCamera,
      ratio: total / ceilingFps,
      fairness: Math.min(...perCamera) / Math.max(...perCamera),
      dropped,
      eventLoopP99: after.eventLoopDelay?.p99Ms ?? NaN,
      gcMsPerSecond: after.eventLoopDelay?.gcMsPerSecond ?? NaN,
      modelMs: after.detectors[0]?.msPerImage ?? NaN,
      runMs: after.detectors[0]?.runMsPerImage ?? NaN,
      modelCeiling: after.detectors[0]?.ceilingFps ?? NaN,
      model: `${after.detectors[0]?.precision} ${after.detectors[0]?.input}`,
      wsFps: framesSeen.reduce((a, b) => a + b, 0) / cameras / ((performance.now() - started) / 1000 + WARM_UP_MS / 1000),
    };
  } finally {
    for (const ws of clients) ws.terminate();
    red.kill('SIGINT');
    await new Promise((resolve) => red.once('exit', resolve));
    rmSync(userDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const vtest = findSampleFile('vtest.avi');
  if (!vtest) {
    console.log('bench/multicam: skipped, vtest.avi not found (Debian/Ubuntu: apt-get install opencv-doc)');
    return;
  }
  if (!existsSync(DEFAULT_MODEL_PATH)) throw new Error(`${DEFAULT_MODEL_PATH} not found: run "npm run setup"`);
  const counts = (process.argv[2] ?? '1,2,4,8').split(',').map(Number);
  const copiesList = (process.argv[3] ?? '1,0').split(',').map(Number);
  const variants = (process.argv[4] ?? 'square-fp32,fit-int8').split(',').map(parseVariant);
  const allModes: Record<string, () => Mode> = {
    flat: () => ({ name: 'flat out', video: vtest, videoFps: 10, detectFps: '', cameraFps: 0 }),
    flat25: () => ({ name: 'flat out 25', video: fasterCopy(vtest), videoFps: 25, detectFps: '', cameraFps: 0 }),
    detect5: () => ({ name: 'detect 5 fps', video: vtest, videoFps: 10, detectFps: 5, cameraFps: 0 }),
    camera5: () => ({ name: 'camera 5 fps', video: vtest, videoFps: 10, detectFps: '', cameraFps: 5 }),
    example: () => ({ name: 'multi-camera', video: vtest, videoFps: 10, detectFps: 5, cameraFps: 0, example: 'multi-camera' }),
  };
  const modes = (process.argv[5] ?? 'flat,detect5').split(',').map((name) => {
    if (!allModes[name]) throw new Error(`unknown mode "${name}": ${Object.keys(allModes).join('|')}`);
    return allModes[name]();
  });
  const model = await YoloModel.load(DEFAULT_MODEL_PATH);
  console.log('bench/multicam: full pipeline in Node-RED, one shared YOLOv8n, one WebSocket viewer per camera');
  console.log('vtest.avi copies in real time (10 fps each); flat out: every frame offered to detection; flat out 25: the same from a 25 fps H.264 copy; detect 5 fps: detection rate 5; camera 5 fps: camera-source Frame rate 5');
  console.log(
    `${'mode'.padEnd(13)} ${'model'.padEnd(12)} ${'copies'.padStart(6)} ${'cams'.padStart(4)} ${'bare ms'.padStart(7)} ${'ceiling'.padStart(7)} ${'total fps'.padStart(9)} ${'ratio'.padStart(5)} ` +
      `${'capacity'.padStart(8)} ${'× bare'.padStart(6)} ${'of cap'.padStart(6)} ${'fairness'.padStart(8)} ${'dropped/s'.padStart(9)} ${'loop p99'.padStart(8)} ${'gc ms/s'.padStart(7)} ${'model ms'.padStart(8)} ${'run ms'.padStart(6)}  per-camera fps`,
  );
  let port = 19900;
  try {
    for (const mode of modes) {
      // The example has the cameras it has.
      for (const count of mode.example ? [0] : counts) for (const copies of copiesList) for (const variant of variants) {
        const bareMs = await bareInferenceMs(model);
        const ceiling = 1000 / bareMs;
        const r = await measure(mode, count, ceiling, port++, copies, variant);
        const cameras = r.perCamera.length;
        const saturated = cameras * (mode.detectFps || mode.cameraFps || mode.videoFps) >= ceiling;
        console.log(
          `${mode.name.padEnd(13)} ${r.model.padEnd(12)} ${(copies > 0 ? String(copies) : 'auto').padStart(6)} ${String(cameras).padStart(4)} ${bareMs.toFixed(1).padStart(7)} ${ceiling.toFixed(1).padStart(7)} ${r.total.toFixed(1).padStart(9)} ` +
            `${r.ratio.toFixed(2).padStart(5)}${saturated ? ' ' : '*'} ${r.modelCeiling.toFixed(1).padStart(8)} ${(r.modelCeiling / ceiling).toFixed(2).padStart(6)} ${(r.total / r.modelCeiling).toFixed(2).padStart(6)} ` +
            `${r.fairness.toFixed(2).padStart(8)} ${(r.dropped / (WINDOW_MS / 1000)).toFixed(1).padStart(9)} ` +
            `${`${r.eventLoopP99.toFixed(1)} ms`.padStart(8)} ${r.gcMsPerSecond.toFixed(0).padStart(7)} ${r.modelMs.toFixed(1).padStart(8)} ${r.runMs.toFixed(1).padStart(6)}  ${r.perCamera.map((f) => f.toFixed(1)).join(' ')}`,
        );
      }
    }
  } finally {
    await model.release();
    for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
  }
  console.log('ratio: total frames detected per second ÷ ceiling (1000 ÷ bare ms); * the cameras ask for less than the ceiling, so the ratio is their demand, not a limit');
  console.log("capacity: the model's ceilingFps in /api/health (every copy, from its busy time in the pipeline); × bare: capacity ÷ ceiling; of cap: total fps ÷ capacity");
  console.log('fairness: slowest camera ÷ fastest; dropped/s: frames replaced while waiting for the model or discarded by their camera; loop p99: event-loop delay in Node-RED; gc ms/s: its main thread\'s garbage collection, ms per second');
}

main().catch((err: Error) => {
  console.error(`bench/multicam: ${err.message}`);
  process.exitCode = 1;
});
