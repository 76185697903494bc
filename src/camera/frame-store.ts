import type { FrameRef, RgbImage } from '../types';

export interface StoredFrame extends RgbImage {
  ref: FrameRef;
}

/**
 * Keeps the newest few frames of each camera, so messages carry only a FrameRef and Node-RED's deep
 * clone on fan-out never copies pixels. Older frames are evicted; a consumer asking for an evicted
 * frame gets undefined and should treat the message as stale.
 *
 * A camera's frames are megabytes each, several times a second: left to the garbage collector they cost
 * Node-RED several full collections a second. So the pixels of a frame the store took from `allocate` are
 * reused for a later frame once it is evicted. Read a frame's pixels before your next `await`, or keep them
 * with `hold` / `using` for as long as you need them (an evicted frame that is held is reused when released).
 */
export class FrameStore {
  private readonly framesByCamera = new Map<string, StoredFrame[]>();
  /** Buffers `allocate` made: only these are reused (anything else put here belongs to its maker). */
  private readonly reusable = new WeakSet<Uint8Array>();
  /** Weak, so that a hold never released costs only the reuse of that buffer, never the memory. */
  private readonly holds = new WeakMap<Uint8Array, number>();
  /** Held buffers of evicted frames, reused when their last hold is released. */
  private readonly evictedWhileHeld = new WeakSet<Uint8Array>();
  private readonly spareBySize = new Map<number, Uint8Array[]>();

  constructor(readonly capacityPerCamera = 8) {
    if (!(capacityPerCamera >= 1)) throw new RangeError('frame store capacity must be at least 1');
  }

  /** A buffer of `size` bytes for a new frame: one an evicted frame no longer needs, or a new one. Contents undefined. */
  allocate(size: number): Uint8Array {
    const spare = this.spareBySize.get(size)?.pop();
    if (spare) return spare;
    // A buffer of its own (never a slice of Node's shared pool), so that it can be reused whole.
    const buffer = Buffer.allocUnsafeSlow(size);
    const pixels = new Uint8Array(buffer.buffer, buffer.byteOffset, size);
    this.reusable.add(pixels);
    return pixels;
  }

  put(frame: StoredFrame): void {
    let frames = this.framesByCamera.get(frame.ref.cameraId);
    if (!frames) {
      frames = [];
      this.framesByCamera.set(frame.ref.cameraId, frames);
    }
    frames.push(frame);
    if (frames.length > this.capacityPerCamera) this.evict(frames.shift()!);
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
    for (const frame of this.framesByCamera.get(cameraId) ?? []) this.evict(frame);
    this.framesByCamera.delete(cameraId);
  }

  /** Keeps `frame`'s pixels from being reused until the returned function is called (calling it again does nothing). */
  hold(frame: RgbImage): () => void {
    const { pixels } = frame;
    this.holds.set(pixels, (this.holds.get(pixels) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.holds.get(pixels)! - 1;
      if (left > 0) return void this.holds.set(pixels, left);
      this.holds.delete(pixels);
      if (this.evictedWhileHeld.delete(pixels)) this.reuse(pixels);
    };
  }

  /** `use()`, with `frame`'s pixels kept until the promise it returns settles. */
  async using<T>(frame: RgbImage, use: () => Promise<T>): Promise<T> {
    const release = this.hold(frame);
    try {
      return await use();
    } finally {
      release();
    }
  }

  private evict(frame: StoredFrame): void {
    if (this.holds.has(frame.pixels)) this.evictedWhileHeld.add(frame.pixels);
    else this.reuse(frame.pixels);
  }

  private reuse(pixels: Uint8Array): void {
    if (!this.reusable.has(pixels)) return;
    const spare = this.spareBySize.get(pixels.length) ?? [];
    // Enough for one camera's turnover; more would only keep memory a stopped camera no longer needs.
    if (spare.length < this.capacityPerCamera) spare.push(pixels);
    this.spareBySize.set(pixels.length, spare);
  }
}

/** The process-wide store: camera-source nodes put frames in, downstream nodes of the same runtime read them. */
export const frameStore = new FrameStore();
