/**
 * Which ONNX Runtime runs the model: onnxruntime-node's native library (glibc builds only) or onnxruntime-web's
 * WebAssembly build, which runs wherever Node.js does — Alpine (musl) images, the Home Assistant add-on — several
 * times slower. Loaded in the inference worker, where a failure to load the native library shows.
 */
import type * as OrtNative from 'onnxruntime-node';

export const RUNTIME_CHOICES = ['auto', 'native', 'wasm'] as const;
/** `auto`: native, falling back to WebAssembly when the native library cannot load here. */
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];
export type RuntimeName = Exclude<RuntimeChoice, 'auto'>;

export function isRuntimeChoice(value: unknown): value is RuntimeChoice {
  return RUNTIME_CHOICES.includes(value as RuntimeChoice);
}

/** The part of ONNX Runtime's API both builds share, typed as the native one's. */
export type Ort = Pick<typeof OrtNative, 'InferenceSession' | 'Tensor' | 'env'>;

export interface LoadedRuntime {
  ort: Ort;
  name: RuntimeName;
  /** Why `auto` fell back to WebAssembly; null when it did not. */
  fallback: string | null;
}

/** Loads the runtime chosen, or says plainly why it cannot. */
export function loadRuntime(choice: RuntimeChoice): LoadedRuntime {
  let nativeError: string | null = null;
  if (choice !== 'wasm') {
    try {
      return { ort: require('onnxruntime-node') as Ort, name: 'native', fallback: null };
    } catch (err) {
      nativeError = (err as Error).message.split('\n')[0];
      if (choice === 'native') throw new Error(`the native ONNX Runtime (onnxruntime-node) cannot load here: ${nativeError}; the WebAssembly runtime can`);
    }
  }
  let web: Ort;
  try {
    web = require('onnxruntime-web') as Ort;
  } catch (err) {
    const why = nativeError ? `onnxruntime-node cannot load here (${nativeError}) and ` : '';
    throw new Error(`${why}the WebAssembly ONNX Runtime is not installed (${(err as Error).message.split('\n')[0]}): run "npm install onnxruntime-web" in the Node-RED user directory`);
  }
  return { ort: web, name: 'wasm', fallback: nativeError && `onnxruntime-node cannot load here (${nativeError})` };
}
