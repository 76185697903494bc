/**
 * Cost of everything around the network: on the first frames of vtest.avi, per frame,
 *   (a) bare model.run on a tensor prepared beforehand, and
 *   (b) the node's whole path: take the frame FFmpeg decoded, letterbox (sharp), run, decode, NMS.
 * The two are interleaved frame by frame so that load from elsewhere on the machine hits both alike.
 * Then (c) the WebAssembly runtime against the native one, bare runs interleaved on the first WASM_FRAMES tensors,
 * and (d) the model as exported against the copies yolo-model makes (input fitted to the 4:3 frames, int8 calibrated
 * on CALIBRATION_FRAMES frames of the video), with 1 and 2 threads: the whole path per frame, interleaved.
 * Prints figures; never fails on speed.  Usage: node dist/bench/detect.js [frames=200] [model]
 */
import { readVideoFile } from '../src/camera/ffmpeg';
import { findSampleFile } from '../src/camera/source';
import { DEFAULT_DETECT_OPTIONS, Detector } from '../src/detection/detector';
import { DEFAULT_MODEL_PATH, YoloModel } from '../src/detection/model';
import { fillInputTensor, letterboxImage } from '../src/imaging/letterbox';
import { fittingInputSize, formatSize } from '../src/detection/input-shape';
import { CALIBRATION_FRAMES, ensureQuantizedModel } from '../src/detection/int8-model';
import { ensureReshapedModel } from '../src/detection/shape-fitter';
import type { RgbImage } from '../src/types';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** WebAssembly runs several times slower: a few dozen frames give its ratio to native. */
const WASM_FRAMES = 30;
/** Frames each model variant detects in (d). */
const VARIANT_FRAMES = 40;

/** (d): the model as exported against yolo-model's fitted and int8 copies, 1 and 2 threads, interleaved frame by frame. */
async function variants(modelPath: string, images: readonly RgbImage[], square: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-detect-'));
  try {
    const size = fittingInputSize([images[0]], square);
    const fitted = await ensureReshapedModel(modelPath, size, dir);
    const calibration = images.filter((_, i) => i % 5 === 0).slice(0, CALIBRATION_FRAMES);
    const files: [string, string][] = [
      [`fp32 ${square}x${square}`, modelPath],
      [`int8 ${square}x${square}`, (await ensureQuantizedModel(modelPath, calibration, dir, 'native')).file],
      [`fp32 ${formatSize(size)}`, fitted],
      [`int8 ${formatSize(size)}`, (await ensureQuantizedModel(fitted, calibration, dir, 'native')).file],
    ];
    const rows: { name: string; detector: Detector; ms: number[] }[] = [];
    for (const threads of [1, 2]) {
      for (const [name, file] of files) rows.push({ name: `${name}, ${threads} thread${threads > 1 ? 's' : ''}`, detector: new Detector(await YoloModel.load(file, { threads })), ms: [] });
    }
    for (const row of rows) await row.detector.detect(images[0]);
    for (const image of images.slice(0, VARIANT_FRAMES)) {
      for (const row of rows) {
        const started = performance.now();
        await row.detector.detect(image, DEFAULT_DETECT_OPTIONS);
        row.ms.push(performance.now() - started);
      }
    }
    console.log(`model variants, the whole path (letterbox, run, decode, NMS) on ${Math.min(VARIANT_FRAMES, images.length)} frames, interleaved; int8 calibrated on ${calibration.length} frames:`);
    for (const row of rows) {
      const s = summary(row.ms);
      const base = summary(rows[row.name.endsWith('1 thread') ? 0 : files.length].ms);
      console.log(`    ${row.name.padEnd(24)} mean ${s.mean.toFixed(1).padStart(6)} ms   p50 ${s.p50.toFixed(1).padStart(6)} ms   ${(base.mean / s.mean).toFixed(2)}× the model as exported`);
      await row.detector.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function summary(samples: number[]): { mean: number; p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { mean: samples.reduce((s, v) => s + v, 0) / samples.length, p50: at(0.5), p99: at(0.99) };
}

async function main(): Promise<void> {
  const frames = Number(process.argv[2] ?? 200);
  const modelPath = process.argv[3] ?? DEFAULT_MODEL_PATH;
  const video = findSampleFile('vtest.avi');
  if (!video) throw new Error('vtest.avi not found: run "npm run setup" (Debian package opencv-doc)');
  const model = await YoloModel.load(modelPath);
  const detector = new Detector(model);

  // Pre-made tensors for (a), from the same frames (b) will read.
  const tensors: Float32Array[] = [];
  const images: RgbImage[] = [];
  for await (const image of readVideoFile(video)) {
    if (images.length < VARIANT_FRAMES * 2) images.push(image);
    const tensor = new Float32Array(3 * model.inputWidth * model.inputHeight);
    const { letterbox, resized } = await letterboxImage(image, model.inputWidth, model.inputHeight);
    fillInputTensor(resized, letterbox, tensor, 0);
    tensors.push(tensor);
    if (tensors.length === frames) break;
  }

  // A run takes its tensor's memory (it moves to the model's worker thread): warm up on copies.
  for (let i = 0; i < 5; i++) await model.run(tensors[i % tensors.length].slice(), 1);
  const runtimeTensors = tensors.slice(0, WASM_FRAMES).map((t) => t.slice());

  const capture = readVideoFile(video);
  const bare: number[] = [];
  const whole: number[] = [];
  let detections = 0;
  for (const tensor of tensors) {
    let started = performance.now();
    await model.run(tensor, 1);
    bare.push(performance.now() - started);

    started = performance.now();
    const { value: image, done } = await capture.next();
    if (done) break;
    const result = await detector.detect(image, DEFAULT_DETECT_OPTIONS);
    whole.push(performance.now() - started);
    detections += result.detections.length;
  }
  await capture.return(undefined);

  const wasmModel = await YoloModel.load(modelPath, { runtime: 'wasm' });
  for (let i = 0; i < 2; i++) await wasmModel.run(runtimeTensors[i].slice(), 1);
  const native: number[] = [];
  const wasm: number[] = [];
  for (const tensor of runtimeTensors) {
    let started = performance.now();
    await model.run(tensor.slice(), 1);
    native.push(performance.now() - started);
    started = performance.now();
    await wasmModel.run(tensor, 1);
    wasm.push(performance.now() - started);
  }
  await wasmModel.release();
  await model.release();

  const a = summary(bare);
  const b = summary(whole);
  const row = (name: string, s: typeof a) =>
    `${name.padEnd(44)} mean ${s.mean.toFixed(2).padStart(7)} ms   p50 ${s.p50.toFixed(2).padStart(7)} ms   p99 ${s.p99.toFixed(2).padStart(7)} ms`;
  console.log(`bench/detect: ${tensors.length} frames of vtest.avi (768x576), ${modelPath.split('/').pop()} ${model.inputWidth}x${model.inputHeight}, CPU`);
  console.log(row('(a) bare session.run on pre-made tensors', a));
  console.log(row('(b) read + letterbox + run + decode + NMS', b));
  console.log(`ratio b/a (mean): ${(b.mean / a.mean).toFixed(3)}   (p50: ${(b.p50 / a.p50).toFixed(3)})   target <= 1.15`);
  console.log(`overhead per frame: ${(b.mean - a.mean).toFixed(2)} ms;  people detected: ${(detections / tensors.length).toFixed(1)} per frame`);
  const n = summary(native);
  const w = summary(wasm);
  console.log(`runtimes, bare runs on ${runtimeTensors.length} frames, interleaved:`);
  console.log(row('(c) native (onnxruntime-node)', n));
  console.log(row('    WebAssembly (onnxruntime-web)', w));
  console.log(`ratio WebAssembly/native (mean): ${(w.mean / n.mean).toFixed(2)}   (p50: ${(w.p50 / n.p50).toFixed(2)})`);
  if (model.inputWidth === model.inputHeight) await variants(modelPath, images, model.inputWidth);
}

main().catch((err) => {
  console.error(`bench/detect: ${(err as Error).message}`);
  process.exitCode = 1;
});
