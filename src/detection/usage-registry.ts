import type { RuntimeName } from './runtime';
import type { ShapeState } from './shape-fitter';
import { spareCameras, type DetectorUsage } from './detector';
import { REFERENCE_DETECT_FPS, type CameraScheduleStats } from './schedule';

/** How one camera's frames fare on their way through detection. */
export interface CameraDetectionReport extends CameraScheduleStats {
  cameraId: string;
  /** Id of the yolo-model config node that detects it. */
  model: string;
  motionGating: boolean;
  /** Frames detected per second, over the model's usage window. */
  fps: number;
  /** Fraction of the model's busy time spent on this camera. */
  share: number;
  /** Frames detected since the yolo-detect node started. */
  processed: number;
  /** Frames replaced by a newer one while waiting for the model (the model was busy). */
  superseded: number;
  /** Frames the camera had already discarded when their turn came. */
  stale: number;
}

/** Where a model is on its way to being usable: `restarting` after its worker thread died, `failed` when it cannot load. */
export const MODEL_STATES = ['fetching', 'loading', 'ready', 'restarting', 'failed'] as const;
export type ModelState = (typeof MODEL_STATES)[number];

export interface ModelCondition {
  state: ModelState;
  /** Why it is not ready (or what last went wrong); null when nothing has. */
  error: string | null;
  /** Worker threads started again after one died. */
  restarts: number;
  /** The ONNX Runtime running it (`native` or `wasm`), once loaded. */
  runtime: RuntimeName | null;
  /** Why it runs on WebAssembly although native was allowed; null otherwise. */
  runtimeFallback: string | null;
}

/** A model as the registry reads it: its condition always, its usage once it has loaded. */
export interface RegisteredModel {
  name: string;
  condition(): ModelCondition;
  usage(): DetectorUsage | null;
  /** The input the model runs at and why, once loaded. */
  shape?(): ShapeState | null;
}

export interface ModelReport extends ModelCondition {
  id: string;
  name: string;
  /** The input size it runs at, `width`x`height`; null until loaded. */
  input: string | null;
  /** The number format it runs in: fp32 as exported, or int8 made here; null until loaded. */
  precision: 'fp32' | 'int8' | null;
  /** Why the input and precision are what they are (fitted or quantised and checked, or kept and why); null when never fitted. */
  inputNote: string | null;
  /** Fraction of time the model was running (0–1). */
  busy: number;
  msPerImage: number | null;
  /** Mean time per image the network itself ran, in its worker thread (the rest of msPerImage is handing over). */
  runMsPerImage: number | null;
  /** Frames per second the model could detect running flat out (1000 ÷ msPerImage). */
  ceilingFps: number | null;
  fps: number;
  cameras: number;
  /** The mean detection rate of its cameras (5 when it has none yet). */
  detectFps: number;
  /** More cameras it could take at that rate with the time it has left. */
  spareCameras: number | null;
}

/** The mean detection rate of a model's cameras, 5 (the rate capacity is quoted at) when none is known yet. */
export function meanDetectFps(cameras: readonly Pick<CameraDetectionReport, 'detectFps'>[]): number {
  const rates = cameras.flatMap((c) => (c.detectFps ? [c.detectFps] : []));
  return rates.length > 0 ? rates.reduce((a, b) => a + b, 0) / rates.length : REFERENCE_DETECT_FPS;
}

const NO_USAGE: DetectorUsage = { busy: 0, msPerImage: null, ceilingFps: null, fps: 0, runMsPerImage: null, streams: [], windowSeconds: 0 };

const models = new Map<string, RegisteredModel>();
const reporters = new Map<string, () => CameraDetectionReport[]>();

/** The process's models and the cameras they detect, for the API and status badges. */
export const detectionRegistry = {
  addModel(id: string, model: RegisteredModel): void {
    models.set(id, model);
  },
  removeModel(id: string): void {
    models.delete(id);
  },
  addReporter(id: string, report: () => CameraDetectionReport[]): void {
    reporters.set(id, report);
  },
  removeReporter(id: string): void {
    reporters.delete(id);
  },
  cameras(): CameraDetectionReport[] {
    return [...reporters.values()].flatMap((report) => report());
  },
  models(): ModelReport[] {
    const all = this.cameras();
    return [...models].map(([id, model]) => {
      const current = model.usage() ?? NO_USAGE;
      const shape = model.shape?.() ?? null;
      const cameras = all.filter((c) => c.model === id);
      const detectFps = meanDetectFps(cameras);
      return {
        id,
        name: model.name,
        ...model.condition(),
        input: shape?.input ?? null,
        precision: shape?.precision ?? null,
        inputNote: shape?.note ?? null,
        busy: current.busy,
        msPerImage: current.msPerImage,
        runMsPerImage: current.runMsPerImage,
        ceilingFps: current.ceilingFps,
        fps: current.fps,
        cameras: cameras.length,
        detectFps,
        spareCameras: spareCameras(current, detectFps),
      };
    });
  },
};
