import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { WorkerReply, WorkerRequest } from './inference-worker';
import { COCO_CLASS_NAMES } from './coco';
import { DEFAULT_MODEL_FILE } from './model-fetch';
import { parseClassNames, parseImageSize, readOnnxMetadata } from './onnx-metadata';

/** The package's own copy (a set-up checkout, the Docker image); Node-RED keeps its copy in the user directory. */
export const DEFAULT_MODEL_PATH = path.resolve(__dirname, '..', '..', '..', 'models', DEFAULT_MODEL_FILE);

/** The compiled worker beside this file. */
const WORKER_SCRIPT = path.join(__dirname, 'inference-worker.js');

export interface ModelOptions {
  /** Used when the model's input has symbolic height/width and its metadata gives no `imgsz`. */
  inputSize?: number;
  /** ONNX Runtime execution provider: `cpu` (in the npm package), or e.g. `cuda` where its binaries are installed. */
  executionProvider?: string;
  /** Threads for one inference; 0 lets ONNX Runtime choose. */
  threads?: number;
}

/**
 * One loaded YOLOv8-format ONNX model: its session (in a worker thread of its own, so inference never blocks the
 * event loop), input geometry and class names.
 */
export class YoloModel {
  private readonly pending = new Map<number, { resolve: (output: { data: Float32Array; dims: number[]; input: Float32Array }) => void; reject: (err: Error) => void }>();
  private nextId = 0;
  private stopped: Error | null = null;

  private constructor(
    readonly file: string,
    private readonly worker: Worker,
    readonly inputWidth: number,
    readonly inputHeight: number,
    /** Largest batch the input accepts: 1 for a fixed batch dimension, Infinity for a symbolic one. */
    readonly maxBatch: number,
    readonly classNames: readonly string[],
  ) {
    worker.on('message', (reply: WorkerReply) => {
      if (reply.kind !== 'ran' && reply.kind !== 'failed') return;
      const job = reply.id === null ? undefined : this.pending.get(reply.id);
      if (!job) return;
      this.pending.delete(reply.id!);
      if (reply.kind === 'ran') job.resolve(reply);
      else job.reject(new Error(`${file}: ${reply.message}`));
    });
    worker.on('exit', () => this.stop(new Error(`${file}: the model's worker thread has stopped`)));
    worker.on('error', (err) => this.stop(new Error(`${file}: the model's worker thread failed: ${err.message}`)));
  }

  static async load(file: string, options: ModelOptions = {}): Promise<YoloModel> {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new Error(`cannot read model file ${file}: ${(err as Error).message}`);
    }
    let metadata: Map<string, string>;
    try {
      metadata = readOnnxMetadata(bytes);
    } catch (err) {
      throw new Error(`${file} is not a loadable ONNX model: ${(err as Error).message}`);
    }
    const executionProvider = options.executionProvider ?? 'cpu';
    const worker = new Worker(WORKER_SCRIPT);
    const loaded = await new Promise<Extract<WorkerReply, { kind: 'loaded' | 'failed' }>>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      const request: WorkerRequest = { kind: 'load', bytes: new Uint8Array(bytes), executionProvider, threads: options.threads ?? 0 };
      worker.postMessage(request);
    }).catch((err: Error) => ({ kind: 'failed' as const, id: null, message: err.message }));
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
    return new YoloModel(file, worker, width, height, fixed(shape[0]) ?? Infinity, names.length > 0 ? names : [...COCO_CLASS_NAMES]);
  }

  labelOf(classId: number): string {
    return this.classNames[classId] ?? `class ${classId}`;
  }

  /**
   * Runs the network on an NCHW float tensor holding `batch` images; returns the raw head output. The input's
   * memory moves to the worker and back (no copy): the array passed in is unusable afterwards, and `input` in the
   * result is the same tensor, to fill again.
   */
  async run(input: Float32Array, batch: number): Promise<{ data: Float32Array; channels: number; anchors: number; input: Float32Array }> {
    if (this.stopped) throw this.stopped;
    const id = this.nextId++;
    const output = await new Promise<{ data: Float32Array; dims: number[]; input: Float32Array }>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: WorkerRequest = { kind: 'run', id, input, dims: [batch, 3, this.inputHeight, this.inputWidth] };
      this.worker.postMessage(request, [input.buffer as ArrayBuffer]);
    });
    const [, channels, anchors] = output.dims;
    if (output.dims.length !== 3 || channels < 5) {
      throw new Error(`${this.file}: expected a YOLOv8 output [batch, 4 + classes, anchors], got [${output.dims.join(', ')}]`);
    }
    return { data: output.data, channels, anchors, input: output.input };
  }

  async release(): Promise<void> {
    if (this.stopped) return;
    const released = new Promise<void>((resolve) => {
      const onReply = (reply: WorkerReply) => {
        if (reply.kind !== 'released') return;
        this.worker.off('message', onReply);
        resolve();
      };
      this.worker.on('message', onReply);
    });
    this.worker.postMessage({ kind: 'release' } satisfies WorkerRequest);
    await released;
    this.stop(new Error('the model has been released'));
    await this.worker.terminate();
  }

  private stop(reason: Error): void {
    this.stopped ??= reason;
    for (const job of this.pending.values()) job.reject(reason);
    this.pending.clear();
  }
}
