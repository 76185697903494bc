import { opencv, withMat } from '../opencv';
import type { BgrImage } from '../types';

export type ImageFormat = 'png' | 'jpeg';

/** Encodes BGR pixels as PNG or JPEG (quality 1..100). */
export function encodeImage(image: BgrImage, format: ImageFormat, quality = 80): Buffer {
  const cv = opencv();
  const { pixels, width, height } = image;
  const mat = new cv.Mat(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.length), height, width, cv.CV_8UC3);
  return withMat(mat, (m) =>
    format === 'jpeg' ? cv.imencode('.jpg', m, [cv.IMWRITE_JPEG_QUALITY, Math.round(quality)]) : cv.imencode('.png', m),
  );
}
