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

export interface ModelReport {
  id: string;
  name: string;
  /** Fraction of time the model was running (0–1). */
  busy: number;
  msPerImage: number | null;
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

const models = new Map<string, { name: string; usage: () => DetectorUsage }>();
const reporters = new Map<string, () => CameraDetectionReport[]>();

/** The process's models and the cameras they detect, for the API and status badges. */
export const detectionRegistry = {
  addModel(id: string, name: string, usage: () => DetectorUsage): void {
    models.set(id, { name, usage });
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
    return [...models].map(([id, { name, usage }]) => {
      const current = usage();
      const cameras = all.filter((c) => c.model === id);
      const detectFps = meanDetectFps(cameras);
      return {
        id,
        name,
        busy: current.busy,
        msPerImage: current.msPerImage,
        ceilingFps: current.ceilingFps,
        fps: current.fps,
        cameras: cameras.length,
        detectFps,
        spareCameras: spareCameras(current, detectFps),
      };
    });
  },
};
