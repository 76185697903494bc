import type { FrameRef, RgbImage } from '../types';

export interface StoredFrame extends RgbImage {
  ref: FrameRef;
}

/**
 * Keeps the newest few frames of each camera, so messages carry only a FrameRef and Node-RED's deep
 * clone on fan-out never copies pixels. Older frames are evicted; a consumer asking for an evicted
 * frame gets undefined and should treat the message as stale.
 */
export class FrameStore {
  private readonly framesByCamera = new Map<string, StoredFrame[]>();

  constructor(readonly capacityPerCamera = 8) {
    if (!(capacityPerCamera >= 1)) throw new RangeError('frame store capacity must be at least 1');
  }

  put(frame: StoredFrame): void {
    let frames = this.framesByCamera.get(frame.ref.cameraId);
    if (!frames) {
      frames = [];
      this.framesByCamera.set(frame.ref.cameraId, frames);
    }
    frames.push(frame);
    if (frames.length > this.capacityPerCamera) frames.shift();
  }

  get(ref: Pick<FrameRef, 'cameraId' | 'seq'>): StoredFrame | undefined {
    const frames = this.framesByCamera.get(ref.cameraId);
    if (!frames) return undefined;
    for (let i = frames.length - 1; i >= 0; i--) {
      if (frames[i].ref.seq === ref.seq) return frames[i];
    }
    return undefined;
  }

  latest(cameraId: string): StoredFrame | undefined {
    return this.framesByCamera.get(cameraId)?.at(-1);
  }

  /** Cameras that have frames, newest frame of each. */
  latestFrames(): StoredFrame[] {
    return [...this.framesByCamera.values()].flatMap((frames) => frames.slice(-1));
  }

  count(cameraId: string): number {
    return this.framesByCamera.get(cameraId)?.length ?? 0;
  }

  delete(cameraId: string): void {
    this.framesByCamera.delete(cameraId);
  }
}

/** The process-wide store: camera-source nodes put frames in, downstream nodes of the same runtime read them. */
export const frameStore = new FrameStore();
