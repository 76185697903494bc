/** What travels in `msg.frame`: a small, JSON-able reference to pixels kept in the engine's frame store. */
export interface FrameRef {
  cameraId: string;
  /** Increases by one for every frame the camera delivers, across reconnects. */
  seq: number;
  /** Capture time, milliseconds since the Unix epoch. */
  timestamp: number;
  width: number;
  height: number;
  /** Frames this camera has dropped so far because downstream was slower than the source. */
  dropped: number;
}

/** Pixels as FFmpeg and sharp hand them over, and as the model wants them: 8-bit RGB, row-major, `width * height * 3` bytes. */
export interface RgbImage {
  pixels: Uint8Array;
  width: number;
  height: number;
}

export type Box = [x1: number, y1: number, x2: number, y2: number];

export interface Detection {
  classId: number;
  label: string;
  score: number;
  /** Corners in pixels of the original image. */
  bbox: Box;
  /** The colour histogram of the upper body, when asked for (null when too little of the box is inside the image). */
  appearance?: number[] | null;
}
