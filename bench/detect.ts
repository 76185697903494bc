/**
 * Cost of everything around the network: on the first frames of vtest.avi, per frame,
 *   (a) bare model.run on a tensor prepared beforehand, and
 *   (b) the node's whole path: take the frame FFmpeg decoded, letterbox (sharp), run, decode, NMS.
 * The two are interleaved frame by frame so that load from elsewhere on the machine hits both alike.
 * Then (c) the WebAssembly runtime against the native one, bare runs interleaved on the first WASM_FRAMES tensors.
 * Prints figures; never fails on speed.  Usage: node dist/bench/detect.js [frames=200] [model]
 */
import { readVideoFile } from '../src/camera/ffmpeg';
import { findSampleFile } from '../src/camera/source';
import { DEFAULT_DETECT_OPTIONS, Detector } from '../src/detection/detector';
import { DEFAULT_MODEL_PATH, YoloModel } from '../src/detection/model';
import { fillInputTensor, letterboxImage } from '../src/imaging/letterbox';

/** WebAssembly runs several times slower: a few dozen frames give its ratio to native. */
const WASM_FRAMES = 30;

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
  for await (const image of readVideoFile(video)) {
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
}

main().catch((err) => {
  console.error(`bench/detect: ${(err as Error).message}`);
  process.exitCode = 1;
});
