/**
 * Runs one ONNX Runtime session off Node-RED's main thread. onnxruntime-node's `session.run` is synchronous
 * (its promise only defers the call), and the WebAssembly build's runs on the calling thread too: run on the main
 * thread, every inference would stall the event loop for its whole duration — every other node, the editor, the
 * HTTP API. Here the main thread only posts tensors.
 */
import { parentPort } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import { keepAnchors } from './anchors';
import { loadRuntime, type Ort, type RuntimeChoice, type RuntimeName } from './runtime';

export type WorkerRequest =
  | { kind: 'load'; bytes: Uint8Array; executionProvider: string; threads: number; runtime: RuntimeChoice }
  /**
   * With `keepAbove`, only the anchors (columns) with a class score above it come back, per image: what any decoding
   * at that confidence or above reads, a few hundred columns instead of thousands — megabytes less per run for the
   * main thread to collect.
   */
  | { kind: 'run'; id: number; input: Float32Array; dims: number[]; keepAbove?: number }
  /** Runs the model and gives the smallest and largest value of each output (calibrating a quantisation). */
  | { kind: 'ranges'; id: number; input: Float32Array; dims: number[] }
  | { kind: 'release' };

export type WorkerReply =
  | { kind: 'loaded'; inputNames: string[]; outputNames: string[]; inputShape: (number | string)[] | null; runtime: RuntimeName; fallback: string | null }
  /** `kept`: each image's anchors in `data` (its [channels × kept] blocks one after the other), with keepAbove. */
  | { kind: 'ran'; id: number; data: Float32Array; dims: number[]; kept: number[] | null; input: Float32Array; runMs: number }
  | { kind: 'ranged'; id: number; ranges: Record<string, { min: number; max: number }>; input: Float32Array }
  | { kind: 'failed'; id: number | null; message: string }
  | { kind: 'released' };

let session: InferenceSession | null = null;
let ort: Ort | null = null;

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.kind) {
    case 'load': {
      let runtime: RuntimeName;
      let fallback: string | null;
      try {
        const loaded = loadRuntime(request.runtime);
        ({ ort } = loaded);
        runtime = loaded.name;
        fallback = loaded.fallback;
        session = await ort.InferenceSession.create(request.bytes, runtime === 'native' ? nativeOptions(request) : wasmOptions(loaded.ort, request));
      } catch (err) {
        return reply({ kind: 'failed', id: null, message: (err as Error).message });
      }
      const input = session.inputMetadata[0];
      return reply({
        kind: 'loaded',
        inputNames: [...session.inputNames],
        outputNames: [...session.outputNames],
        inputShape: input?.isTensor ? [...input.shape] : null,
        runtime,
        fallback,
      });
    }
    case 'run': {
      try {
        if (!session || !ort) throw new Error('no model loaded');
        const tensor = new ort.Tensor('float32', request.input, request.dims);
        const started = performance.now();
        const results = await session.run({ [session.inputNames[0]]: tensor });
        const runMs = performance.now() - started;
        const output = results[session.outputNames[0]];
        const raw = output.data as Float32Array;
        const dims = [...output.dims];
        const compact = request.keepAbove !== undefined && dims.length === 3 ? keepAnchors(raw, dims[0], dims[1], dims[2], request.keepAbove) : null;
        // Moved to the caller, so it must own its whole buffer: never a view into a runtime's memory.
        const data = compact?.data ?? (raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength ? raw : raw.slice());
        // The input goes back with the output, so the caller can fill it again instead of allocating another.
        return reply({ kind: 'ran', id: request.id, data, dims, kept: compact?.kept ?? null, input: request.input, runMs }, [data.buffer as ArrayBuffer, request.input.buffer as ArrayBuffer]);
      } catch (err) {
        return reply({ kind: 'failed', id: request.id, message: (err as Error).message });
      }
    }
    case 'ranges': {
      try {
        if (!session || !ort) throw new Error('no model loaded');
        const results = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', request.input, request.dims) });
        const ranges: Record<string, { min: number; max: number }> = {};
        for (const name of session.outputNames) {
          const data = results[name].data as Float32Array;
          let min = Infinity;
          let max = -Infinity;
          for (let i = 0; i < data.length; i++) {
            if (data[i] < min) min = data[i];
            if (data[i] > max) max = data[i];
          }
          ranges[name] = { min, max };
        }
        return reply({ kind: 'ranged', id: request.id, ranges, input: request.input }, [request.input.buffer as ArrayBuffer]);
      } catch (err) {
        return reply({ kind: 'failed', id: request.id, message: (err as Error).message });
      }
    }
    case 'release':
      await session?.release();
      session = null;
      return reply({ kind: 'released' });
  }
}

function nativeOptions(request: Extract<WorkerRequest, { kind: 'load' }>): InferenceSession.SessionOptions {
  return {
    executionProviders: [request.executionProvider],
    intraOpNumThreads: request.threads,
    graphOptimizationLevel: 'all',
    // Idle inference threads sleep instead of spinning: on a small box they share the cores with FFmpeg,
    // libvips and the event loop, and spinning threads slow those (and so the next inference) down.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

function wasmOptions(runtime: Ort, request: Extract<WorkerRequest, { kind: 'load' }>): InferenceSession.SessionOptions {
  if (request.executionProvider !== 'cpu') {
    throw new Error(`the WebAssembly runtime runs on the CPU only; the "${request.executionProvider}" execution provider needs the native runtime`);
  }
  if (request.threads > 0) runtime.env.wasm.numThreads = request.threads;
  return { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
}

parentPort!.on('message', (request: WorkerRequest) => void handle(request));
