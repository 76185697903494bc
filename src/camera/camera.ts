import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { FrameRef } from '../types';
import type { CaptureConfig, FromCapture, ToCapture } from './capture-protocol';
import { frameStore as sharedStore, type FrameStore, type StoredFrame } from './frame-store';
import { describeSource, isLive, parseSource, type VideoSource } from './source';

export type CameraState = 'stopped' | 'starting' | 'running' | 'reconnecting' | 'ended' | 'failed';

export interface CameraOptions {
  id: string;
  name?: string;
  /** What the user typed: file path, device index, /dev/videoN, stream URL or sample:NAME. */
  source: string;
  width?: number;
  height?: number;
  fps?: number;
  loop?: boolean;
  realtime?: boolean;
  store?: FrameStore;
  /** Frames sent by the capture process and not yet taken by the event loop; it drops frames beyond this. */
  inFlight?: number;
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
}

const STOP_GRACE_MS = 2000;

/**
 * One video source: a capture process, the frame sequence, dropped-frame accounting and, for live
 * sources, reconnection with exponential backoff.
 */
export class Camera {
  readonly id: string;
  readonly name: string;
  private readonly source: VideoSource;
  private readonly store: FrameStore;
  private readonly handlers: Partial<CameraHandlers>;
  private capture: ChildProcess | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private currentState: CameraState = 'stopped';
  private seq = 0;
  private droppedBefore = 0;
  private droppedInRun = 0;
  private fps = 0;
  private width = 0;
  private height = 0;
  private lastFrameAt: number | null = null;
  private reconnects = 0;

  constructor(private readonly options: CameraOptions, handlers: Partial<CameraHandlers> = {}) {
    if (!options.id || typeof options.id !== 'string') throw new Error('a camera needs an id');
    this.id = options.id;
    this.name = options.name || options.id;
    this.source = parseSource(options.source);
    this.store = options.store ?? sharedStore;
    this.handlers = handlers;
    this.backoffMs = options.reconnectInitialMs ?? 1000;
  }

  get state(): CameraState {
    return this.currentState;
  }

  get dropped(): number {
    return this.droppedBefore + this.droppedInRun;
  }

  stats(): CameraStats {
    return {
      id: this.id,
      name: this.name,
      source: describeSource(this.source),
      state: this.currentState,
      width: this.width,
      height: this.height,
      fps: Math.round(this.fps * 10) / 10,
      frames: this.seq,
      dropped: this.dropped,
      lastFrameAt: this.lastFrameAt,
      reconnects: this.reconnects,
    };
  }

  start(): void {
    if (this.capture || this.retryTimer) return;
    this.setState('starting');
    const config: CaptureConfig = {
      source: this.source,
      width: this.options.width ?? 0,
      height: this.options.height ?? 0,
      fps: this.options.fps ?? 0,
      loop: this.options.loop ?? false,
      realtime: this.options.realtime ?? true,
    };
    const child = fork(path.join(__dirname, 'capture-process.js'), [], {
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // OpenCV and FFmpeg log every backend and connection they try; our error messages say what failed.
      env: { OPENCV_LOG_LEVEL: 'FATAL', OPENCV_FFMPEG_LOGLEVEL: '8', ...process.env },
    });
    this.capture = child;
    let finished = false;
    const finish = (outcome: 'ended' | Error) => {
      const stoppedOnPurpose = this.capture !== child;
      if (finished || stoppedOnPurpose) return;
      finished = true;
      this.capture = undefined;
      child.kill('SIGKILL');
      this.droppedBefore += this.droppedInRun;
      this.droppedInRun = 0;
      this.onRunFinished(outcome);
    };
    child.on('message', (message: FromCapture) => {
      if (this.capture !== child) return;
      switch (message.type) {
        case 'opened':
          this.setState('running');
          break;
        case 'frame':
          this.backoffMs = this.options.reconnectInitialMs ?? 1000;
          this.droppedInRun = message.dropped;
          this.deliver(message);
          this.send(child, { type: 'credit', frames: 1 });
          break;
        case 'ended':
          finish('ended');
          break;
        case 'failed':
          finish(new Error(message.message));
          break;
      }
    });
    child.on('error', (err) => finish(err));
    child.on('exit', (code, signal) => finish(new Error(`capture stopped unexpectedly (${signal ?? `exit code ${code}`})`)));
    this.send(child, { type: 'start', config });
    this.send(child, { type: 'credit', frames: this.options.inFlight ?? 2 });
  }

  async stop(): Promise<void> {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const child = this.capture;
    this.capture = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      this.send(child, { type: 'stop' });
      // A read blocked on a dead stream never sees the stop request; the process is killed instead.
      const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(killer);
    }
    this.droppedBefore += this.droppedInRun;
    this.droppedInRun = 0;
    this.setState('stopped');
  }

  /** Stops the camera and forgets its frames. */
  async close(): Promise<void> {
    await this.stop();
    this.store.delete(this.id);
  }

  private deliver(message: Extract<FromCapture, { type: 'frame' }>): void {
    const ref: FrameRef = {
      cameraId: this.id,
      seq: ++this.seq,
      timestamp: message.timestamp,
      width: message.width,
      height: message.height,
      dropped: this.dropped,
    };
    if (this.lastFrameAt !== null) {
      const instantFps = 1000 / Math.max(1, message.timestamp - this.lastFrameAt);
      this.fps = this.fps === 0 ? instantFps : this.fps * 0.9 + instantFps * 0.1;
    }
    this.lastFrameAt = message.timestamp;
    this.width = message.width;
    this.height = message.height;
    const frame: StoredFrame = { ref, pixels: message.pixels, width: message.width, height: message.height };
    this.store.put(frame);
    this.handlers.frame?.(frame);
  }

  private onRunFinished(outcome: 'ended' | Error): void {
    if (outcome === 'ended') {
      this.setState('ended');
      return;
    }
    this.handlers.error?.(outcome);
    if (!isLive(this.source)) {
      this.setState('failed', outcome.message);
      return;
    }
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.reconnectMaxMs ?? 30000);
    this.reconnects++;
    this.setState('reconnecting', `retry in ${Math.round(delay / 1000)} s: ${outcome.message}`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.start();
    }, delay);
  }

  private send(child: ChildProcess, message: ToCapture): void {
    if (child.connected) child.send(message);
  }

  private setState(state: CameraState, detail?: string): void {
    this.currentState = state;
    this.handlers.state?.(state, detail);
  }
}
