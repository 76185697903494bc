import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WorkerReply, WorkerRequest } from './inference-worker';
import { COCO_CLASS_NAMES } from './coco';
import { modelFile, type ModelName } from './model-fetch';
import { parseClassNames, parseImageSize, readOnnxMetadata } from './onnx-metadata';
import type { RuntimeChoice, RuntimeName } from './runtime';

/** The package's own models/ folder (a set-up checkout, the Docker image); Node-RED keeps its copies in the user directory. */
export const PACKAGE_MODEL_DIR = path.resolve(__dirname, '..', '..', '..', 'models');

/** Where the package keeps its copy of a known model. */
export function packageModelPath(name: ModelName): string {
  return path.join(PACKAGE_MODEL_DIR, modelFile(name));
}

export const DEFAULT_MODEL_PATH = packageModelPath('yolov8n');

/** The compiled worker beside this file. */
const WORKER_SCRIPT = path.join(__dirname, 'inference-worker.js');

export interface ModelOptions {
  /** Used when the model's input has symbolic height/width and its metadata gives no `imgsz`. */
  inputSize?: number;
  /** ONNX Runtime execution provider: `cpu` (in the npm package), or e.g. `cuda` where its binaries are installed. */
  executionProvider?: string;
  /** Threads for one inference; 0 lets ONNX Runtime choose. */
  threads?: number;
  /** Which ONNX Runtime: native, WebAssembly, or auto (the default: native, WebAssembly where native cannot load). */
  runtime?: RuntimeChoice;
  /** First wait before starting a worker thread again after it died; it doubles up to restartMaxMs. */
  restartInitialMs?: number;
  restartMaxMs?: number;
}

/** Copies of the model loaded when the setting is automatic: beyond four, memory grows faster than throughput. */
export const MAX_AUTO_COPIES = 4;

/**
 * How many copies of a model to run side by side (a worker thread each) and the threads of each: on a CPU, one
 * 1-thread copy per core does more than one copy using every core (measured 1.3× on 2 cores, fp32 YOLOv8n). A
 * set `copies` is kept; other execution providers (a GPU) get one copy.
 */
export function inferenceCopies(settings: { copies: number; threads: number; executionProvider: string; cores: number }): { copies: number; threads: number } {
  const { copies, threads, executionProvider, cores } = settings;
  if (copies > 0) return { copies, threads };
  if (executionProvider !== 'cpu') return { copies: 1, threads };
  const auto = Math.max(1, Math.min(MAX_AUTO_COPIES, Math.floor(cores / Math.max(1, threads))));
  return { copies: auto, threads: threads > 0 ? threads : Math.max(1, Math.floor(cores / auto)) };
}

/** Whether the model can run now: `restarting` after its worker thread died, until a new one has loaded it. */
export interface ModelHealth {
  state: 'ready' | 'restarting' | 'released';
  /** Worker threads started again after one died. */
  restarts: number;
  /** Why the last worker thread stopped (or the last restart failed); null when none has. */
  lastError: string | null;
}

type LoadReply = Extract<WorkerReply, { kind: 'loaded' | 'failed' }>;

/** A worker thread that has lived this long was healthy: the next death starts the backoff afresh. */
const STABLE_WORKER_MS = 60_000;

/** A worker thread with the model loaded in ONNX Runtime, or the reason it could not load it. */
async function startWorker(bytes: Uint8Array, executionProvider: string, threads: number, runtime: RuntimeChoice): Promise<{ worker: Worker; reply: LoadReply }> {
  const worker = new Worker(WORKER_SCRIPT);
  const reply = await new Promise<LoadReply>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.postMessage({ kind: 'load', bytes, executionProvider, threads, runtime } satisfies WorkerRequest);
  }).catch((err: Error) => ({ kind: 'failed' as const, id: null, message: err.message }));
  return { worker, reply };
}

/**
 * One loaded YOLOv8-format ONNX model: its session (in a worker thread of its own, so inference never blocks the
 * event loop), input geometry and class names. A worker thread that dies is started again with backoff; the runs
 * it had in hand, and those asked for until the new one has loaded the model, fail with the reason.
 */
export class YoloModel {
  private readonly pending = new Map<number, { resolve: (reply: Extract<WorkerReply, { kind: 'ran' | 'ranged' }>) => void; reject: (err: Error) => void }>();
  private nextId = 0;
  private worker: Worker;
  private workerStartedAt = Date.now();
  private current: ModelHealth = { state: 'ready', restarts: 0, lastError: null };
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelayMs: number;

  private constructor(
    readonly file: string,
    worker: Worker,
    readonly inputWidth: number,
    readonly inputHeight: number,
    /** Largest batch the input accepts: 1 for a fixed batch dimension, Infinity for a symbolic one. */
    readonly maxBatch: number,
    readonly classNames: readonly string[],
    /** The ONNX Runtime that runs it; a restarted worker thread uses the same. */
    readonly runtime: RuntimeName,
    /** Why `auto` chose WebAssembly; null when it did not. */
    readonly runtimeFallback: string | null,
    private readonly options: ModelOptions,
  ) {
    this.restartDelayMs = options.restartInitialMs ?? 500;
    this.worker = worker;
    this.attach(worker);
  }

  static async load(file: string, options: ModelOptions = {}): Promise<YoloModel> {
    const bytes = await readModelFile(file);
    let metadata: Map<string, string>;
    try {
      metadata = readOnnxMetadata(bytes);
    } catch (err) {
      throw new Error(`${file} is not a loadable ONNX model: ${(err as Error).message}`);
    }
    const executionProvider = options.executionProvider ?? 'cpu';
    const { worker, reply: loaded } = await startWorker(new Uint8Array(bytes), executionProvider, options.threads ?? 0, options.runtime ?? 'auto');
    const shape = loaded.kind === 'loaded' ? loaded.inputShape ?? [] : [];
    if (loaded.kind === 'failed' || shape.length !== 4) {
      await worker.terminate();
      if (loaded.kind === 'failed') throw new Error(`ONNX Runtime cannot load ${file} with the "${executionProvider}" execution provider: ${loaded.message}`);
      throw new Error(`${file}: expected an image input [batch, 3, height, width], got [${shape.join(', ')}]`);
    }
    const fixed = (dim: number | string) => (typeof dim === 'number' && dim > 0 ? dim : undefined);
    const metaSize = metadata.has('imgsz') ? parseImageSize(metadata.get('imgsz')!) : null;
    const height = fixed(shape[2]) ?? metaSize?.[0] ?? options.inputSize ?? 640;
    const width = fixed(shape[3]) ?? metaSize?.[1] ?? options.inputSize ?? 640;
    const names = metadata.has('names') ? parseClassNames(metadata.get('names')!) : [];
    const classNames = names.length > 0 ? names : [...COCO_CLASS_NAMES];
    return new YoloModel(file, worker, width, height, fixed(shape[0]) ?? Infinity, classNames, loaded.runtime, loaded.fallback, options);
  }

  labelOf(classId: number): string {
    return this.classNames[classId] ?? `class ${classId}`;
  }

  health(): ModelHealth {
    return { ...this.current };
  }

  /**
   * Runs the network on an NCHW float tensor holding `batch` images; returns each image's head output
   * [channels × anchors]: all anchors, or with `keepAbove` only those with a class score above it (all that decoding
   * at that confidence or above reads; decoding them gives the same detections). The input's memory moves to the
   * worker and back (no copy): the array passed in is unusable afterwards, and `input` in the result is the same
   * tensor, to fill again.
   */
  async run(input: Float32Array, batch: number, keepAbove?: number): Promise<{ channels: number; images: { data: Float32Array; anchors: number }[]; input: Float32Array; runMs: number }> {
    const output = await this.request('run', input, batch, keepAbove);
    if (output.kind !== 'ran') throw new Error(`${this.file}: the worker thread answered ${output.kind}`);
    const [, channels, anchors] = output.dims;
    if (output.dims.length !== 3 || channels < 5) {
      throw new Error(`${this.file}: expected a YOLOv8 output [batch, 4 + classes, anchors], got [${output.dims.join(', ')}]`);
    }
    const kept = output.kept ?? Array.from({ length: output.dims[0] }, () => anchors);
    let at = 0;
    const images = kept.map((count) => {
      const data = output.data.subarray(at, at + channels * count);
      at += channels * count;
      return { data, anchors: count };
    });
    return { channels, images, input: output.input, runMs: output.runMs };
  }

  /**
   * Runs the network on one image's tensor and gives the smallest and largest value of each of its outputs, by
   * name: the ranges a quantisation is calibrated with. The input is moved as with run.
   */
  async outputRanges(input: Float32Array): Promise<Map<string, { min: number; max: number }>> {
    const output = await this.request('ranges', input, 1);
    if (output.kind !== 'ranged') throw new Error(`${this.file}: the worker thread answered ${output.kind}`);
    return new Map(Object.entries(output.ranges));
  }

  private async request(kind: 'run' | 'ranges', input: Float32Array, batch: number, keepAbove?: number): Promise<Extract<WorkerReply, { kind: 'ran' | 'ranged' }>> {
    if (this.current.state === 'released') throw new Error(`${this.file}: the model has been released`);
    if (this.current.state === 'restarting') throw new Error(`${this.file}: the model is being loaded again after its worker thread stopped (${this.current.lastError})`);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const dims = [batch, 3, this.inputHeight, this.inputWidth];
      const request: WorkerRequest = kind === 'run' ? { kind, id, input, dims, keepAbove } : { kind, id, input, dims };
      this.worker.postMessage(request, [input.buffer as ArrayBuffer]);
    });
  }

  async release(): Promise<void> {
    if (this.current.state === 'released') return;
    const restarting = this.current.state === 'restarting';
    this.current.state = 'released';
    clearTimeout(this.restartTimer);
    this.failPending(new Error('the model has been released'));
    if (restarting) return;
    const worker = this.worker;
    const released = new Promise<void>((resolve) => {
      const onReply = (reply: WorkerReply) => {
        if (reply.kind !== 'released') return;
        worker.off('message', onReply);
        resolve();
      };
      worker.on('message', onReply);
      worker.once('exit', () => resolve());
    });
    worker.postMessage({ kind: 'release' } satisfies WorkerRequest);
    await released;
    await worker.terminate();
  }

  private attach(worker: Worker): void {
    worker.on('message', (reply: WorkerReply) => {
      if (reply.kind !== 'ran' && reply.kind !== 'ranged' && reply.kind !== 'failed') return;
      const job = reply.id === null ? undefined : this.pending.get(reply.id);
      if (!job) return;
      this.pending.delete(reply.id!);
      if (reply.kind !== 'failed') job.resolve(reply);
      else job.reject(new Error(`${this.file}: ${reply.message}`));
    });
    worker.on('error', (err) => this.died(worker, `it failed: ${err.message}`));
    worker.on('exit', (code) => this.died(worker, `exit code ${code}`));
  }

  /** The worker thread stopped without being asked to: what it had in hand fails, a new one is started. */
  private died(worker: Worker, how: string): void {
    if (worker !== this.worker || this.current.state !== 'ready') return;
    const reason = `${this.file}: the model's worker thread stopped (${how}); starting it again`;
    this.current = { ...this.current, state: 'restarting', lastError: reason };
    this.failPending(new Error(reason));
    if (Date.now() - this.workerStartedAt >= STABLE_WORKER_MS) this.restartDelayMs = this.options.restartInitialMs ?? 500;
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    const delay = this.restartDelayMs;
    this.restartDelayMs = Math.min(delay * 2, this.options.restartMaxMs ?? 30_000);
    this.restartTimer = setTimeout(() => void this.restart(), delay);
    this.restartTimer.unref();
  }

  private async restart(): Promise<void> {
    try {
      const bytes = await readModelFile(this.file);
      const { worker, reply } = await startWorker(new Uint8Array(bytes), this.options.executionProvider ?? 'cpu', this.options.threads ?? 0, this.runtime);
      if (this.current.state !== 'restarting') return void (await worker.terminate());
      if (reply.kind === 'failed') {
        await worker.terminate();
        throw new Error(reply.message);
      }
      this.worker = worker;
      this.workerStartedAt = Date.now();
      this.attach(worker);
      this.current = { ...this.current, state: 'ready', restarts: this.current.restarts + 1 };
    } catch (err) {
      if (this.current.state !== 'restarting') return;
      this.current.lastError = `${this.file}: loading the model in a new worker thread failed (${(err as Error).message}); trying again`;
      this.scheduleRestart();
    }
  }

  private failPending(reason: Error): void {
    for (const job of this.pending.values()) job.reject(reason);
    this.pending.clear();
  }
}

async function readModelFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`cannot read model file ${file}: ${(err as Error).message}`);
  }
}
