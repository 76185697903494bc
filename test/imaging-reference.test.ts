import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decodeImage, resizeImage } from '../src/imaging/image';
import { letterbox } from '../src/imaging/letterbox';
import type { RgbImage } from '../src/types';
import { loadOpenCv, type Mat, type OpenCv } from './opencv';
import { DARKNET_DATA, requireFile, requireVtest, videoFrames } from './support';

/** OpenCV's BGR Mat as RGB pixels, released. */
function rgbOf(mat: Mat): RgbImage {
  const bgr = mat.getData();
  const pixels = new Uint8Array(bgr.length);
  for (let i = 0; i < bgr.length; i += 3) {
    pixels[i] = bgr[i + 2];
    pixels[i + 1] = bgr[i + 1];
    pixels[i + 2] = bgr[i];
  }
  const image = { pixels, width: mat.cols, height: mat.rows };
  mat.release();
  return image;
}

function meanAbsoluteDifference(a: RgbImage, b: RgbImage): number {
  assert.deepEqual([a.width, a.height], [b.width, b.height]);
  let sum = 0;
  for (let i = 0; i < a.pixels.length; i++) sum += Math.abs(a.pixels[i] - b.pixels[i]);
  return sum / a.pixels.length;
}

describe('imaging against OpenCV (the reference Ultralytics uses)', function () {
  let cv: OpenCv;

  before(function () {
    const loaded = loadOpenCv();
    if (!loaded) {
      console.log('      skipped: the OpenCV binding (@u4/opencv4nodejs, a development dependency) is not built; "npm run setup" builds it');
      this.skip();
    }
    cv = loaded;
  });

  it('decodes JPEG photos to the same pixels as cv.imdecode', async function () {
    for (const name of ['person.jpg', 'dog.jpg', 'kite.jpg']) {
      const file = requireFile(this, path.join(DARKNET_DATA, name), "darknet's sample photos (Debian package darknet)");
      const encoded = readFileSync(file);
      const ours = await decodeImage(encoded);
      const reference = rgbOf(cv.imdecode(encoded, cv.IMREAD_COLOR));
      const difference = meanAbsoluteDifference(ours, reference);
      assert.ok(difference < 1, `${name}: mean difference ${difference.toFixed(3)} per channel`);
    }
  });

  it('decodes video frames as OpenCV VideoCapture does', async function () {
    const video = requireVtest(this);
    const ours = await videoFrames(video, 3);
    const capture = new cv.VideoCapture(video);
    for (const frame of ours) {
      const difference = meanAbsoluteDifference(frame, rgbOf(capture.read()));
      assert.ok(difference < 2, `mean difference ${difference.toFixed(3)} per channel`);
    }
    capture.release();
  });

  it('scales for the model input as cv.resize with INTER_LINEAR does', async function () {
    const video = requireVtest(this);
    const file = requireFile(this, path.join(DARKNET_DATA, 'person.jpg'), "darknet's sample photos (Debian package darknet)");
    const images = [...(await videoFrames(video, 1)), await decodeImage(readFileSync(file))];
    for (const image of images) {
      const lb = letterbox(image.width, image.height, 640, 640);
      const ours = { pixels: await resizeImage(image, lb.resizedWidth, lb.resizedHeight), width: lb.resizedWidth, height: lb.resizedHeight };
      const bgr = new cv.Mat(Buffer.from(rgbOf(new cv.Mat(Buffer.from(image.pixels), image.height, image.width, cv.CV_8UC3)).pixels), image.height, image.width, cv.CV_8UC3);
      const reference = rgbOf(bgr.resize(lb.resizedHeight, lb.resizedWidth, 0, 0, cv.INTER_LINEAR));
      bgr.release();
      const difference = meanAbsoluteDifference(ours, reference);
      assert.ok(difference < 3, `${image.width}x${image.height} → ${lb.resizedWidth}x${lb.resizedHeight}: mean difference ${difference.toFixed(3)} per channel`);
    }
  });
});
