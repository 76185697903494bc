import type { VideoSource } from './source';

/** What the capture process is told when it starts. */
export interface CaptureConfig {
  source: VideoSource;
  /** Output size; 0 keeps the source's size for that dimension (the other one scales to keep aspect). */
  width: number;
  height: number;
  /** Frames per second to deliver; 0 delivers every frame the source gives. */
  fps: number;
  /** File sources: start again at the end. */
  loop: boolean;
  /** File sources: play at the file's own frame rate, dropping frames like a live camera would when downstream is slow. When false, read as fast as downstream takes frames, dropping none. */
  realtime: boolean;
}

export type ToCapture = { type: 'start'; config: CaptureConfig } | { type: 'credit'; frames: number } | { type: 'stop' };

export type FromCapture =
  | { type: 'opened'; width: number; height: number; fps: number }
  | { type: 'frame'; pixels: Uint8Array; width: number; height: number; timestamp: number; dropped: number }
  | { type: 'ended' }
  | { type: 'failed'; message: string };
