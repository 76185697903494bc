import type { ModelReport } from '../detection/usage-registry';

export type HealthStatus = 'ok' | 'degraded' | 'down';

/** A camera as health judges it: what it says of itself, and when its last frame was taken. */
export interface CameraCondition {
  id: string;
  state: string;
  fps: number;
  /** When its latest frame was taken; undefined when freshness is judged elsewhere (a fleet worker judges its own). */
  lastFrameAt?: number | null;
  /** Why the source last failed, when it said (a camera-source of this process). */
  lastError?: string | null;
}

export interface Problem {
  kind: 'camera' | 'model';
  id: string;
  problem: string;
}

/** A frame older than this (or than five frame intervals, at a low rate) means the camera has gone stale. */
const FRESH_MS = 10_000;

/** States a person chose, not faults: a camera stopped by command, a file played to its end. */
const INTENDED = new Set(['stopped', 'ended']);

/** What is wrong with a camera now, or null when it delivers fresh frames (or was stopped on purpose). */
export function cameraProblem(camera: CameraCondition, now: number): string | null {
  if (INTENDED.has(camera.state)) return null;
  const why = camera.lastError ? `: ${camera.lastError}` : '';
  // `unknown`: frames come from something other than a camera-source of this process; only they can tell.
  if (camera.state !== 'running' && camera.state !== 'unknown') return `${camera.state}${why}`;
  if (camera.lastFrameAt === undefined) return null;
  if (camera.lastFrameAt === null) return 'no frame yet';
  const freshMs = Math.max(FRESH_MS, camera.fps > 0 ? 5000 / camera.fps : 0);
  const age = now - camera.lastFrameAt;
  return age > freshMs ? `no frame for ${Math.round(age / 1000)} s` : null;
}

/** What is wrong with a model now, or null when it is loaded and running. */
export function modelProblem(model: Pick<ModelReport, 'state' | 'error'>): string | null {
  if (model.state === 'ready') return null;
  return model.error ? `${model.state}: ${model.error}` : model.state;
}

/**
 * `ok` when every camera has fresh frames and every model is loaded; `down` when cameras are meant to run and none
 * does, or no model can load; `degraded` in between.
 */
export function overallHealth(cameras: { problem: string | null; state: string }[], models: Pick<ModelReport, 'state' | 'error'>[]): HealthStatus {
  const meant = cameras.filter((c) => !INTENDED.has(c.state));
  const camerasDown = meant.length > 0 && meant.every((c) => c.problem !== null);
  // A model restarting its worker recovers by itself within seconds: degraded; one that cannot load is down.
  const modelsDown = models.length > 0 && models.every((m) => m.state === 'failed');
  if (camerasDown || modelsDown) return 'down';
  return cameras.some((c) => c.problem !== null) || models.some((m) => modelProblem(m) !== null) ? 'degraded' : 'ok';
}
