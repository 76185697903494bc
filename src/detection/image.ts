import { opencv, withMat } from '../opencv';
import type { BgrImage } from '../types';

/** Decodes an encoded image (JPEG, PNG, BMP, WebP…) to BGR pixels. */
export function decodeImage(encoded: Uint8Array): BgrImage {
  const cv = opencv();
  if (encoded.length === 0) throw new Error('the image is empty');
  let mat;
  try {
    mat = cv.imdecode(Buffer.from(encoded.buffer, encoded.byteOffset, encoded.length), cv.IMREAD_COLOR);
  } catch (err) {
    throw new Error(`not a decodable image (${encoded.length} bytes): ${(err as Error).message}`);
  }
  return withMat(mat, (image) => {
    if (image.empty) throw new Error(`not a decodable image (${encoded.length} bytes)`);
    return { pixels: new Uint8Array(image.getData()), width: image.cols, height: image.rows };
  });
}
