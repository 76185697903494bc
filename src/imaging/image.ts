import sharp, { type Metadata, type Sharp } from 'sharp';
import type { Box, RgbImage } from '../types';

export type ImageFormat = 'png' | 'jpeg';

/**
 * The largest image we decode unless told otherwise. A PNG of 20000x20000 black pixels is a few hundred KB on the
 * wire and 1.2 GB once decoded: the size is read from the header and refused before any pixel is decoded.
 */
export const DEFAULT_MAX_PIXELS = 50_000_000;

// libvips caches operations for reuse; every frame is new to it, so the cache only holds memory.
sharp.cache(false);

/** Throws unless the image's size is whole and positive and its pixels are exactly width x height x 3 bytes. */
export function checkRgbImage(image: RgbImage): void {
  const { pixels, width, height } = image;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new RangeError(`image size must be whole positive numbers, got ${width}x${height}`);
  }
  if (pixels.length !== width * height * 3) {
    throw new RangeError(`a ${width}x${height} RGB image needs ${width * height * 3} bytes, got ${pixels.length}`);
  }
}

/** The image with pixels of its own: for keeping past the moment a camera may reuse its buffer for a later frame. */
export function copyImage(image: RgbImage): RgbImage {
  return { width: image.width, height: image.height, pixels: image.pixels.slice() };
}

function raw(image: RgbImage): Sharp {
  checkRgbImage(image);
  return sharp(image.pixels, { raw: { width: image.width, height: image.height, channels: 3 } });
}

function asUint8(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length);
}

/** Decodes an encoded image (JPEG, PNG, WebP, GIF, TIFF…) to RGB pixels, upright as its EXIF orientation says. */
const megapixels = (pixels: number) => (pixels >= 1e6 ? (pixels / 1e6).toFixed(1) : (pixels / 1e6).toPrecision(2));

export async function decodeImage(encoded: Uint8Array, maxPixels = DEFAULT_MAX_PIXELS): Promise<RgbImage> {
  if (encoded.length === 0) throw new Error('the image is empty');
  const input = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.length);
  let header: Metadata;
  try {
    // Reading the header decodes no pixels, so it needs no limit; the decode below has one.
    header = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new Error(`not a decodable image (${encoded.length} bytes): ${(err as Error).message}`);
  }
  const { width = 0, height = 0 } = header;
  if (width * height > maxPixels) {
    throw new RangeError(`the image is ${width}x${height} (${megapixels(width * height)} megapixels); the limit is ${megapixels(maxPixels)} megapixels`);
  }
  try {
    const { data, info } = await sharp(input, { limitInputPixels: maxPixels })
      .rotate()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { pixels: asUint8(data), width: info.width, height: info.height };
  } catch (err) {
    throw new Error(`not a decodable image (${encoded.length} bytes): ${(err as Error).message}`);
  }
}

/** Encodes RGB pixels as PNG or JPEG (quality 1..100). */
export function encodeImage(image: RgbImage, format: ImageFormat, quality = 80): Promise<Buffer> {
  const pipeline = raw(image);
  return (format === 'jpeg' ? pipeline.jpeg({ quality: Math.round(quality) }) : pipeline.png()).toBuffer();
}

/** Scales RGB pixels to exactly `width` x `height` with bilinear interpolation, as OpenCV's INTER_LINEAR does. */
export async function resizeImage(image: RgbImage, width: number, height: number): Promise<Uint8Array> {
  const data = await raw(image).resize(width, height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
  return asUint8(data);
}

/** Scales a one-channel grid of levels to `width` x `height`, smoothly (bilinear). */
export async function resizeLevels(levels: Uint8Array, columns: number, rows: number, width: number, height: number): Promise<Uint8Array> {
  const data = await sharp(levels, { raw: { width: columns, height: rows, channels: 1 } })
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .extractChannel(0)
    .raw()
    .toBuffer();
  return asUint8(data);
}

/** A box as whole pixels inside a width x height image, or null when less than 2 pixels remain. */
export function clampBox(box: Box, width: number, height: number): [number, number, number, number] | null {
  if (!Array.isArray(box) || !box.slice(0, 4).every(Number.isFinite)) return null;
  const x1 = Math.max(0, Math.floor(box[0]));
  const y1 = Math.max(0, Math.floor(box[1]));
  const x2 = Math.min(width, Math.ceil(box[2]));
  const y2 = Math.min(height, Math.ceil(box[3]));
  return x2 - x1 >= 2 && y2 - y1 >= 2 ? [x1, y1, x2, y2] : null;
}

/**
 * A copy of the image with the given boxes blurred strongly enough that faces cannot be recognised; the image
 * itself is left as it was (other nodes may still read it from the frame store).
 */
export async function blurRegions(image: RgbImage, boxes: readonly Box[]): Promise<RgbImage> {
  const { width, height } = image;
  const rects = boxes.map((box) => clampBox(box, width, height)).filter((rect) => rect !== null);
  const pixels = Uint8Array.from(image.pixels);
  const blurred = await Promise.all(
    rects.map(([x1, y1, x2, y2]) => {
      const sigma = Math.max(3, Math.min(x2 - x1, y2 - y1) / 6);
      return raw(image).extract({ left: x1, top: y1, width: x2 - x1, height: y2 - y1 }).blur(sigma).raw().toBuffer();
    }),
  );
  rects.forEach(([x1, y1, x2, y2], i) => {
    const rowBytes = (x2 - x1) * 3;
    for (let y = y1; y < y2; y++) {
      const from = (y - y1) * rowBytes;
      pixels.set(blurred[i].subarray(from, from + rowBytes), (y * width + x1) * 3);
    }
  });
  return { pixels, width, height };
}
