import { createHash, randomUUID } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { arch, cpus } from 'node:os';
import * as path from 'node:path';
import { fillInputTensor, letterboxImage } from '../imaging/letterbox';
import type { RgbImage } from '../types';
import { YoloModel } from './model';
import { calibrationModel, quantizeModel, type Range } from './quantize';
import { loadRuntime, type RuntimeName } from './runtime';

/** Frames the activation ranges are measured on: 32 gave the same accuracy as more in an experiment; 16 here keep first deploys short. */
export const CALIBRATION_FRAMES = 16;

/**
 * What an int8 model is made for: its integer kernels are chosen per CPU (VNNI, AVX2, NEON) and runtime
 * version, so a copy moved to another machine or kept across an update is made again.
 */
export function quantizationTarget(runtime: RuntimeName): string {
  const cpu = createHash('sha256').update(`${arch()} ${cpus()[0]?.model ?? 'unknown'}`).digest('hex').slice(0, 8);
  return `${runtime}${loadRuntime(runtime).ort.env.versions.common}-${cpu}`;
}

/**
 * The int8 copy of `source`, made once (calibrated on `frames`, letterboxed as the detector does) and kept in `dir`:
 * named by the source's checksum, the runtime and the CPU. Written under another name and renamed, so a crash
 * never leaves half a model. `calibrated` is how many frames calibrated it; null when it was already there.
 */
export async function ensureQuantizedModel(source: string, frames: readonly RgbImage[], dir: string, runtime: RuntimeName): Promise<{ file: string; calibrated: number | null }> {
  const bytes = await readFile(source);
  const checksum = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const file = path.join(dir, `${path.basename(source, '.onnx')}-${checksum}-int8-${quantizationTarget(runtime)}.onnx`);
  try {
    await access(file);
    return { file, calibrated: null };
  } catch {
    // Not made yet.
  }
  if (frames.length === 0) throw new Error('no camera frame to calibrate the int8 model on');
  const calibrating = calibrationModel(bytes);
  await mkdir(dir, { recursive: true });
  const partial = `${file}.${process.pid}-${randomUUID()}.partial`;
  await writeFile(partial, calibrating.bytes);
  const ranges = new Map<string, Range>(calibrating.activations.map((t) => [t, { min: Infinity, max: -Infinity }]));
  try {
    const model = await YoloModel.load(partial, { threads: 1, runtime });
    try {
      for (const frame of frames) {
        const { letterbox, resized } = await letterboxImage(frame, model.inputWidth, model.inputHeight);
        const tensor = new Float32Array(3 * model.inputWidth * model.inputHeight);
        fillInputTensor(resized, letterbox, tensor);
        for (const [name, { min, max }] of await model.outputRanges(tensor)) {
          const range = ranges.get(name);
          if (range) ranges.set(name, { min: Math.min(range.min, min), max: Math.max(range.max, max) });
        }
      }
    } finally {
      await model.release();
    }
    await writeFile(partial, quantizeModel(bytes, ranges));
    await rename(partial, file);
  } finally {
    await rm(partial, { force: true });
  }
  return { file, calibrated: frames.length };
}
