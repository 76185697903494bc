import type { FrameRef } from '../types';
import { CaptureRun, FfmpegMissingError, ffmpegExecutable, probeFrameRate } from './ffmpeg';
import { frameStore as sharedStore, type FrameStore, type StoredFrame } from './frame-store';
import { describeSource, isLive, parseSource, redactSecrets, withCredentials, type VideoSource } from './source';

export type CameraState = 'stopped' | 'starting' | 'running' | 'reconnecting' | 'ended' | 'failed';

export interface CameraOptions {
  id: string;
  name?: string;
  /** What the user typed: file path, device index, /dev/videoN, stream URL or sample:NAME. */
  source: string;
  /** For stream URLs: put into the URL when FFmpeg opens it, never shown. */
  username?: string;
  password?: string;
  width?: number;
  height?: number;
  fps?: number;
  loop?: boolean;
  realtime?: boolean;
  store?: FrameStore;
  /** The FFmpeg executable; default FFMPEG_PATH, else `ffmpeg` on the PATH. */
  ffmpegPath?: string;
  /** A source that sends no frame for this long is closed, and reopened when it is meant to keep running. */
  stallTimeoutMs?: number;
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
}

export interface CameraHandlers {
  frame(frame: StoredFrame): void;
  state(state: CameraState, detail?: string): void;
  error(err: Error): void;
}

export interface CameraStats {
  id: string;
  name: string;
  source: string;
  state: CameraState;
  width: number;
  height: number;
  fps: number;
  frames: number;
  dropped: number;
  lastFrameAt: number | null;
  reconnects: number;
  /** Runs in a row that ended unexpectedly (0 once a run has lasted); what ended the last one. */
  failures: number;
  lastError: string | null;
}

/** A file whose frame rate cannot be read plays at this rate. */
const FALLBACK_FPS = 25;
/** A run that has delivered frames for this long counts as healthy: the next failure starts the backoff afresh. */
const STABLE_RUN_MS = 10_000;

/**
 * One video source: an FFmpeg process decoding it (its blocking reads and any crash stay out of Node-RED), the
 * frame sequence, real-time pacing of files, dropped-frame accounting, a stall watchdog and, for every source
 * meant to keep running (live streams, devices, looping files), a new FFmpeg after any unexpected exit, with
 * exponential backoff.
 */
export class Camera {
  readonly id: string;
  readonly name: string;
  private readonly source: VideoSource;
  private readonly store: FrameStore;
  private readonly handlers: Partial<CameraHandlers>;
  private capture: CaptureRun | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private paceTimer: NodeJS.Timeout | undefined;
  /** Counts start() and stop() calls, so a frame-rate probe that finishes after a stop or restart starts nothing. */
  private generation = 0;
  private backoffMs: number;
  private currentState: CameraState = 'stopped';
  private seq = 0;
  private droppedFrames = 0;
  private fps = 0;
  private width = 0;
  private height = 0;
  private lastFrameAt: number | null = null;
  private reconnects = 0;
  /** When the current run delivered its first frame (ms since the epoch); null before. */
  private runStartedAt: number | null = null;
  private failures = 0;
  private lastError: string | null = null;

  constructor(private readonly options: CameraOptions, handlers: Partial<CameraHandlers> = {}) {
    if (!options.id || typeof options.id !== 'string') throw new Error('a camera needs an id');
    this.id = options.id;
    this.name = options.name || options.id;
    this.source = parseSource(withCredentials(options.source, options.username, options.password));
    this.store = options.store ?? sharedStore;
    this.handlers = handlers;
    this.backoffMs = options.reconnectInitialMs ?? 1000;
  }

  get state(): CameraState {
    return this.currentState;
  }

  get dropped(): number {
    return this.droppedFrames;
  }

  stats(): CameraStats {
    return {
      id: this.id,
      name: this.name,
      source: describeSource(this.source),
      state: this.currentState,
      width: this.width,
      height: this.height,
      fps: Math.round(this.currentFps() * 10) / 10,
      frames: this.seq,
      dropped: this.dropped,
      lastFrameAt: this.lastFrameAt,
      reconnects: this.reconnects,
      failures: this.failures,
      lastError: this.lastError,
    };
  }

  /** Frames per second now: 0 unless running, and falling while frames are late, so a stalled source shows it. */
  private currentFps(): number {
    if (this.currentState !== 'running' || this.lastFrameAt === null) return 0;
    const sinceLast = Date.now() - this.lastFrameAt;
    return sinceLast > 1000 / this.fps ? Math.min(this.fps, 1000 / sinceLast) : this.fps;
  }

  /** Sources that are meant to keep running: any end of theirs is unexpected. */
  private get keepsRunning(): boolean {
    return isLive(this.source) || (this.options.loop ?? false);
  }

  start(): void {
    if (this.capture || this.retryTimer || this.currentState === 'starting') return;
    this.setState('starting');
    const generation = ++this.generation;
    const ffmpeg = ffmpegExecutable(this.options.ffmpegPath);
    const realtime = this.source.kind === 'file' && (this.options.realtime ?? true);
    const rate = this.source.kind === 'file' ? probeFrameRate(ffmpeg, this.source.path) : Promise.resolve(undefined);
    void rate.then((sourceFps) => {
      if (generation !== this.generation || this.currentState !== 'starting') return;
      const fps = this.options.fps ?? 0;
      const outputFps = fps > 0 && (!sourceFps || fps < sourceFps) ? fps : sourceFps ?? FALLBACK_FPS;
      this.run(ffmpeg, sourceFps, realtime ? 1000 / outputFps : 0);
    });
  }

  private run(ffmpeg: string, sourceFps: number | undefined, frameMs: number): void {
    let startedAt = 0;
    let played = 0;
    this.runStartedAt = null;
    const capture = new CaptureRun(
      ffmpeg,
      {
        source: this.source,
        width: this.options.width ?? 0,
        height: this.options.height ?? 0,
        fps: this.options.fps ?? 0,
        loop: this.options.loop ?? false,
        sourceFps,
      },
      {
        frame: (pixels, width, height) => {
          if (this.capture !== capture) return;
          const now = performance.now();
          if (played === 0) {
            startedAt = now;
            this.runStartedAt = Date.now();
            this.setState('running');
          }
          played++;
          this.watchdog?.refresh();
          if (frameMs === 0) return this.deliver(pixels, width, height);
          // A file played in real time behaves like a camera: frame n is due n intervals after the first. An early
          // frame is held until it is due while FFmpeg waits, and reading resumes as it is delivered, so the next
          // frame has a whole interval to arrive; a frame read when its successor is already due is dropped.
          const due = startedAt + (played - 1) * frameMs;
          if (now >= due + frameMs) {
            this.droppedFrames++;
          } else if (due - now > 1) {
            capture.pause();
            this.paceTimer = setTimeout(() => {
              this.deliver(pixels, width, height);
              capture.resume();
            }, due - now);
          } else {
            this.deliver(pixels, width, height);
          }
        },
        exit: (error) => this.finishRun(capture, error),
        allocate: (size) => this.store.allocate(size),
      },
      (text) => redactSecrets(text, this.source),
    );
    this.capture = capture;
    // A source that goes quiet without closing (a camera unplugged from the network, a hung FFmpeg) is closed, and
    // reopened when it is meant to keep running; every frame restarts the countdown, which is longer than the
    // pacing of a file played at a very low rate.
    const timeoutMs = Math.max(this.options.stallTimeoutMs ?? 15000, 3 * frameMs);
    this.watchdog = setTimeout(() => {
      this.finishRun(capture, new Error(`no frame for ${Math.round(timeoutMs / 1000)} s`));
      void capture.stop();
    }, timeoutMs);
  }

  async stop(): Promise<void> {
    this.generation++;
    this.clearTimers();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const capture = this.capture;
    this.capture = undefined;
    await capture?.stop();
    this.setState('stopped');
  }

  /** Stops the camera and forgets its frames. */
  async close(): Promise<void> {
    await this.stop();
    this.store.delete(this.id);
  }

  private deliver(pixels: Uint8Array, width: number, height: number): void {
    const timestamp = Date.now();
    const ref: FrameRef = { cameraId: this.id, seq: ++this.seq, timestamp, width, height, dropped: this.dropped };
    if (this.lastFrameAt !== null) {
      const instantFps = 1000 / Math.max(1, timestamp - this.lastFrameAt);
      this.fps = this.fps === 0 ? instantFps : this.fps * 0.9 + instantFps * 0.1;
    }
    this.lastFrameAt = timestamp;
    this.width = width;
    this.height = height;
    const frame: StoredFrame = { ref, pixels, width, height };
    this.store.put(frame);
    this.handlers.frame?.(frame);
  }

  /** The current run ended by itself (or stalled): reported once, then reconnected or left ended/failed. */
  private finishRun(capture: CaptureRun, error: Error | null): void {
    if (this.capture !== capture) return;
    this.capture = undefined;
    this.clearTimers();
    this.onRunFinished(error);
  }

  private clearTimers(): void {
    clearTimeout(this.watchdog);
    clearTimeout(this.paceTimer);
    this.watchdog = undefined;
    this.paceTimer = undefined;
  }

  private onRunFinished(error: Error | null): void {
    const keepsRunning = this.keepsRunning;
    if (!error && !keepsRunning) {
      this.setState('ended');
      return;
    }
    const outcome = new Error(`${describeSource(this.source)}: ${error ? error.message : 'the stream ended'}`);
    this.lastError = outcome.message;
    this.handlers.error?.(outcome);
    if (!keepsRunning || error instanceof FfmpegMissingError) {
      this.setState('failed', error?.message);
      return;
    }
    if (this.runStartedAt !== null && Date.now() - this.runStartedAt >= STABLE_RUN_MS) {
      this.failures = 0;
      this.backoffMs = this.options.reconnectInitialMs ?? 1000;
    }
    this.failures++;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.reconnectMaxMs ?? 30000);
    this.reconnects++;
    const streak = this.failures > 1 ? ` (failed ${this.failures} times in a row)` : '';
    this.setState('reconnecting', `retry in ${Math.round(delay / 1000)} s${streak}: ${outcome.message}`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.start();
    }, delay);
  }

  private setState(state: CameraState, detail?: string): void {
    this.currentState = state;
    this.handlers.state?.(state, detail);
  }
}
