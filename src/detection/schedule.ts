import type { RgbImage } from '../types';
import { MotionDetector, validateMotionOptions, type MotionOptions } from './motion';

export interface ScheduleOptions {
  /** Frames detected per second and camera; 0 detects every frame. */
  detectFps: number;
  /** Detect only when something moved (null: always). */
  motion: MotionOptions | null;
  /** With motion gating, detect at least this often, so people standing still stay tracked. */
  keepAliveSeconds: number;
  /**
   * Frames detected per second while someone is near a line or a zone's edge (zone-analytics says so); 0, or a
   * rate not above detectFps, keeps detectFps throughout.
   */
  boostFps: number;
}

/**
 * Every frame the model has time for, shared fairly between cameras: on the accuracy benchmark detecting fewer
 * frames costs counts in busy scenes (people crossing each other between two detections swap ids), so a lower
 * rate is a choice made for capacity, not the default.
 */
export const DEFAULT_DETECT_FPS = 0;
/** The rate NVRs detect at, and the one capacity is quoted at ("room for N more cameras at 5 fps"). */
export const REFERENCE_DETECT_FPS = 5;
export const DEFAULT_KEEP_ALIVE_SECONDS = 5;
export const DEFAULT_SCHEDULE_OPTIONS: ScheduleOptions = { detectFps: DEFAULT_DETECT_FPS, motion: null, keepAliveSeconds: DEFAULT_KEEP_ALIVE_SECONDS, boostFps: 0 };

export type Decision = 'detect' | 'rate' | 'still';

export interface CameraScheduleStats {
  /** Frames offered, and what became of them. */
  frames: number;
  detect: number;
  /** Skipped because the camera delivers faster than the detection rate. */
  rate: number;
  /** Skipped by the motion gate: detector calls saved. */
  still: number;
  /** Detected while someone was near a line or zone edge, at the faster rate. */
  boosted: number;
  /** The camera's frame rate, from the frames' capture times. */
  sourceFps: number | null;
  /** The rate its frames are detected at when nothing is gated: the lower of the source's and detectFps. */
  detectFps: number | null;
}

/**
 * The rate a camera's frames are detected at when nothing is gated: the lower of the detection rate and the
 * camera's own (every frame when the rate is 0); null while neither is known.
 */
export function detectionRate(detectFps: number, sourceFps: number | null): number | null {
  if (sourceFps === null) return detectFps || null;
  return detectFps > 0 ? Math.min(detectFps, sourceFps) : sourceFps;
}

export function validateScheduleOptions(options: ScheduleOptions): ScheduleOptions {
  if (!(options.detectFps >= 0 && options.detectFps <= 1000)) throw new Error(`the detection rate must be from 0 (every frame) to 1000 per second, got ${options.detectFps}`);
  if (!(options.keepAliveSeconds > 0 && options.keepAliveSeconds <= 3600)) throw new Error(`the keep-alive must be above 0 and at most 3600 seconds, got ${options.keepAliveSeconds}`);
  if (!(options.boostFps >= 0 && options.boostFps <= 1000)) throw new Error(`the rate near lines must be from 0 (off) to 1000 per second, got ${options.boostFps}`);
  if (options.motion) validateMotionOptions(options.motion);
  return options;
}

/**
 * Which of one camera's frames to detect, by their capture times: at most `detectFps` per second (a frame is due
 * when the time since the previous due one is an interval, give or take half a source frame, so a 10 fps camera
 * detected at 5 fps gives every other frame despite jitter), and with motion gating only due frames in which
 * something moved, or the first due one after `keepAliveSeconds` without a detection.
 */
export class CameraSchedule {
  private readonly motion: MotionDetector | null;
  /** The cadence time of the last frame that was due; the next is due an interval later. */
  private lastDue: number | null = null;
  private lastFrameAt: number | null = null;
  private lastDetectAt = -Infinity;
  private frameIntervalMs: number | null = null;
  private readonly counts = { frames: 0, detect: 0, rate: 0, still: 0, boosted: 0 };

  constructor(readonly options: ScheduleOptions) {
    this.motion = options.motion ? new MotionDetector(options.motion) : null;
  }

  /**
   * Whether to detect a frame captured at `timestamp`; `nearBoundary`: someone was near a line or zone edge at the
   * last detection (the faster rate applies). The image is read only by the motion gate.
   */
  decide(timestamp: number, image: RgbImage | null, nearBoundary = false): Decision {
    this.counts.frames++;
    this.observeInterval(timestamp);
    const boosted = nearBoundary && this.options.boostFps > this.options.detectFps && this.options.detectFps > 0;
    const decision = !this.due(timestamp, boosted ? this.options.boostFps : this.options.detectFps) ? 'rate' : this.gated(timestamp, image) ? 'still' : 'detect';
    this.counts[decision]++;
    if (decision === 'detect') {
      this.lastDetectAt = timestamp;
      if (boosted) this.counts.boosted++;
    }
    return decision;
  }

  stats(): CameraScheduleStats {
    return { ...this.counts, sourceFps: this.sourceFps, detectFps: this.detectFps };
  }

  /** The camera's frame rate, from its frames' capture times. */
  get sourceFps(): number | null {
    return this.frameIntervalMs ? 1000 / this.frameIntervalMs : null;
  }

  /** The rate its frames are detected at when nothing is gated (see detectionRate). */
  get detectFps(): number | null {
    return detectionRate(this.options.detectFps, this.sourceFps);
  }

  private observeInterval(timestamp: number): void {
    if (this.lastFrameAt !== null && timestamp > this.lastFrameAt) {
      const interval = timestamp - this.lastFrameAt;
      this.frameIntervalMs = this.frameIntervalMs === null ? interval : this.frameIntervalMs * 0.9 + interval * 0.1;
    }
    this.lastFrameAt = timestamp;
  }

  private due(timestamp: number, rate: number): boolean {
    if (rate <= 0) return true;
    const interval = 1000 / rate;
    const slack = Math.min(interval, this.frameIntervalMs ?? 0) / 2;
    const nextDue = this.lastDue === null ? null : this.lastDue + interval;
    if (nextDue !== null && timestamp + slack < nextDue) return false;
    // Behind by more than an interval (a slow source, a pause): the cadence restarts from this frame.
    this.lastDue = nextDue === null || timestamp - nextDue > interval ? timestamp : nextDue;
    return true;
  }

  private gated(timestamp: number, image: RgbImage | null): boolean {
    if (!this.motion) return false;
    if (!image) throw new Error('motion gating needs the frame');
    // The background learns from every due frame, kept alive or not.
    const { moved } = this.motion.check(image, timestamp);
    return !moved && timestamp - this.lastDetectAt < this.options.keepAliveSeconds * 1000;
  }
}

/** One schedule per camera, created on first use; a bounded number of cameras. */
export class DetectionSchedules {
  private readonly cameras = new Map<string, CameraSchedule>();

  constructor(readonly options: ScheduleOptions = DEFAULT_SCHEDULE_OPTIONS, readonly maxCameras = 256) {
    validateScheduleOptions(options);
  }

  of(cameraId: string): CameraSchedule {
    let schedule = this.cameras.get(cameraId);
    if (!schedule) {
      if (this.cameras.size >= this.maxCameras) throw new Error(`already detecting ${this.maxCameras} cameras; camera "${cameraId}" is one too many`);
      schedule = new CameraSchedule(this.options);
      this.cameras.set(cameraId, schedule);
    }
    return schedule;
  }

  entries(): [string, CameraSchedule][] {
    return [...this.cameras];
  }
}
