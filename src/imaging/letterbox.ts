import type { Box, RgbImage } from '../types';
import { checkRgbImage, resizeImage } from './image';

/** Where a source image lands inside the model input, computed exactly as Ultralytics' LetterBox does. */
export interface Letterbox {
  scale: number;
  /** Size of the resized image before padding. */
  resizedWidth: number;
  resizedHeight: number;
  left: number;
  top: number;
  inputWidth: number;
  inputHeight: number;
}

export const PAD_VALUE = 114;

const UNIT_INTENSITY = Float32Array.from({ length: 256 }, (_, v) => v / 255);

export function letterbox(sourceWidth: number, sourceHeight: number, inputWidth: number, inputHeight: number): Letterbox {
  if (!(sourceWidth > 0 && sourceHeight > 0)) {
    throw new RangeError(`image size must be positive, got ${sourceWidth}x${sourceHeight}`);
  }
  const scale = Math.min(inputWidth / sourceWidth, inputHeight / sourceHeight);
  const resizedWidth = Math.round(sourceWidth * scale);
  const resizedHeight = Math.round(sourceHeight * scale);
  // Ultralytics splits odd padding with round(d - 0.1): the extra pixel goes right/bottom.
  const left = Math.max(0, Math.round((inputWidth - resizedWidth) / 2 - 0.1));
  const top = Math.max(0, Math.round((inputHeight - resizedHeight) / 2 - 0.1));
  return { scale, resizedWidth, resizedHeight, left, top, inputWidth, inputHeight };
}

/** Maps a box from model-input coordinates back to the source image, clipped to its bounds. */
export function toSourceBox(box: Box, lb: Letterbox, sourceWidth: number, sourceHeight: number): Box {
  const clip = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  return [
    clip((box[0] - lb.left) / lb.scale, sourceWidth),
    clip((box[1] - lb.top) / lb.scale, sourceHeight),
    clip((box[2] - lb.left) / lb.scale, sourceWidth),
    clip((box[3] - lb.top) / lb.scale, sourceHeight),
  ];
}

/**
 * Writes one letterboxed image into an NCHW float tensor in a single pass: interleaved to planar, /255, and the
 * 114-grey border. `resized` is the RGB image already scaled to `lb.resizedWidth x lb.resizedHeight`.
 * Every value of the slot is written, so a tensor can be reused from frame to frame.
 */
export function fillInputTensor(resized: Uint8Array, lb: Letterbox, tensor: Float32Array, batchIndex = 0): void {
  const { inputWidth, resizedWidth, resizedHeight, left, top } = lb;
  const plane = inputWidth * lb.inputHeight;
  const base = batchIndex * 3 * plane;
  const expected = resizedWidth * resizedHeight * 3;
  if (resized.length < expected) {
    throw new RangeError(`resized image has ${resized.length} bytes, expected ${expected}`);
  }
  const grey = UNIT_INTENSITY[PAD_VALUE];
  const imageStart = top * inputWidth;
  const imageEnd = (top + resizedHeight) * inputWidth;
  for (let channel = 0; channel < 3; channel++) {
    const start = base + channel * plane;
    tensor.fill(grey, start, start + imageStart);
    tensor.fill(grey, start + imageEnd, start + plane);
    if (resizedWidth === inputWidth) continue;
    for (let y = top; y < top + resizedHeight; y++) {
      const row = start + y * inputWidth;
      tensor.fill(grey, row, row + left);
      tensor.fill(grey, row + left + resizedWidth, row + inputWidth);
    }
  }
  const red = base;
  const green = base + plane;
  const blue = base + 2 * plane;
  let src = 0;
  for (let y = 0; y < resizedHeight; y++) {
    let dst = (y + top) * inputWidth + left;
    for (let x = 0; x < resizedWidth; x++, dst++, src += 3) {
      tensor[red + dst] = UNIT_INTENSITY[resized[src]];
      tensor[green + dst] = UNIT_INTENSITY[resized[src + 1]];
      tensor[blue + dst] = UNIT_INTENSITY[resized[src + 2]];
    }
  }
}

/**
 * Scales an RGB image for a model input of `inputWidth` x `inputHeight` with bilinear interpolation, as
 * Ultralytics does with OpenCV; `fillInputTensor(resized, letterbox, …)` then writes it into the tensor.
 */
export async function letterboxImage(image: RgbImage, inputWidth: number, inputHeight: number): Promise<{ letterbox: Letterbox; resized: Uint8Array }> {
  checkRgbImage(image);
  const { pixels, width, height } = image;
  const lb = letterbox(width, height, inputWidth, inputHeight);
  const unscaled = lb.resizedWidth === width && lb.resizedHeight === height;
  return { letterbox: lb, resized: unscaled ? pixels : await resizeImage(image, lb.resizedWidth, lb.resizedHeight) };
}
