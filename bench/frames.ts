import { CaptureRun } from '../src/camera/ffmpeg';
import { ffmpegExecutable } from '../src/camera/ffmpeg';
import type { RgbImage } from '../src/types';

/** Frames of a video file one at a time, as FFmpeg decodes them for a camera-source node (for benchmarks). */
export class FrameReader {
  private readonly ready: RgbImage[] = [];
  private waiting: ((image: RgbImage | null) => void) | undefined;
  private ended = false;
  private readonly run: CaptureRun;

  constructor(file: string, width = 0) {
    this.run = new CaptureRun(
      ffmpegExecutable(),
      { source: { kind: 'file', path: file }, width, height: 0, fps: 0, loop: false },
      {
        frame: (pixels, w, h) => {
          this.ready.push({ pixels, width: w, height: h });
          // Two decoded frames ahead at most, as a camera keeps.
          if (this.ready.length >= 2) this.run.pause();
          this.wake();
        },
        exit: (error) => {
          if (error) console.error(`bench: ${error.message}`);
          this.ended = true;
          this.wake();
        },
      },
      (text) => text,
    );
  }

  next(): Promise<RgbImage | null> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.wake();
    });
  }

  stop(): Promise<void> {
    return this.run.stop();
  }

  private wake(): void {
    const resolve = this.waiting;
    if (!resolve) return;
    const image = this.ready.shift();
    if (image || this.ended) {
      this.waiting = undefined;
      if (this.ready.length < 2) this.run.resume();
      resolve(image ?? null);
    }
  }
}
