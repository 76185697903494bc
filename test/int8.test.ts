import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Detector, type DetectOptions } from '../src/detection/detector';
import { ensureQuantizedModel } from '../src/detection/int8-model';
import { reshapeYoloInput } from '../src/detection/input-shape';
import { DEFAULT_MODEL_PATH, YoloModel } from '../src/detection/model';
import { decodeFields, encodeFields, messageField, stringField, varintField } from '../src/detection/protobuf';
import { calibrationModel, quantizeModel } from '../src/detection/quantize';
import { agreement, ensureReshapedModel, INT8_TOLERANCE, REQUIRED_AGREEMENT, ShapeFitter, type Variant } from '../src/detection/shape-fitter';
import { decodeImage } from '../src/imaging/image';
import type { Detection, RgbImage } from '../src/types';
import { blindModel, DARKNET_DATA, requireFile, requireModel, requireVtest, videoFrames } from './support';

const EVERY_CLASS: DetectOptions = { confidence: 0.25, iou: 0.45, classes: null, maxDetections: 300 };
const PHOTOS = ['dog', 'eagle', 'giraffe', 'horses', 'kite', 'person', 'scream'];

async function detectAll(file: string, images: readonly RgbImage[]): Promise<Detection[][]> {
  const detector = new Detector(await YoloModel.load(file, { threads: 1 }));
  try {
    return await Promise.all(images.map(async (image) => (await detector.detect(image, EVERY_CLASS)).detections));
  } finally {
    await detector.close();
  }
}

describe('int8 model: quantised here, calibrated on the camera', function () {
  this.timeout(180_000);
  let dir: string;
  let camera: RgbImage[];
  let photos: RgbImage[];
  let float: string;
  let made: { file: string; calibrated: number | null };

  before(async function () {
    requireModel(this);
    requireVtest(this);
    requireFile(this, path.join(DARKNET_DATA, 'dog.jpg'), "darknet's sample photos (Debian package darknet)");
    dir = mkdtempSync(path.join(tmpdir(), 'int8-'));
    const frames = await videoFrames(requireVtest(this), 160);
    camera = frames.filter((_, i) => i % 10 === 0);
    photos = await Promise.all(PHOTOS.map(async (name) => decodeImage(readFileSync(path.join(DARKNET_DATA, `${name}.jpg`)))));
    float = await ensureReshapedModel(DEFAULT_MODEL_PATH, { width: 640, height: 480 }, dir);
    made = await ensureQuantizedModel(float, camera.filter((_, i) => i % 2 === 0), dir, 'native');
  });

  it('finds what the float model finds on frames of the camera it was not calibrated on', async () => {
    const held = camera.filter((_, i) => i % 2 === 1);
    const checked = agreement(await detectAll(float, held), await detectAll(made.file, held), INT8_TOLERANCE.sameBoxIou);
    assert.ok(checked.compared >= 20, `people to compare: ${checked.compared}`);
    assert.ok(checked.agreed / checked.compared >= REQUIRED_AGREEMENT, `${checked.agreed} of ${checked.compared} agreed`);
    assert.ok(checked.scoreDifference <= INT8_TOLERANCE.scoreDifference, `median score difference ${checked.scoreDifference}`);
  });

  it('stores int8 weights: the file is under a third of the float one, and is made once', async () => {
    assert.equal(made.calibrated, 8);
    assert.ok(statSync(made.file).size < statSync(float).size / 3, `${statSync(made.file).size} bytes against ${statSync(float).size}`);
    const again = await ensureQuantizedModel(float, [], dir, 'native');
    assert.deepEqual(again, { file: made.file, calibrated: null });
  });

  it("finds the sure objects of scenes unlike the camera's (darknet's photos)", async () => {
    const checked = agreement(await detectAll(float, photos), await detectAll(made.file, photos), INT8_TOLERANCE.sameBoxIou);
    assert.ok(checked.agreed / checked.compared >= REQUIRED_AGREEMENT, `${checked.agreed} of ${checked.compared} agreed`);
  });

  it('refuses models it cannot quantise, saying why', () => {
    const bytes = readFileSync(DEFAULT_MODEL_PATH);
    const withOpset = (version: number) =>
      encodeFields(decodeFields(bytes).map((f) => (f.field === 8 ? messageField(8, [stringField(1, ''), varintField(2, version)]) : f)));
    assert.throws(() => calibrationModel(withOpset(12)), /opset 12 is older than 13/);
    const headless = encodeFields([varintField(1, 8), messageField(8, [varintField(2, 17)]), messageField(7, [stringField(2, 'g')])]);
    assert.throws(() => calibrationModel(headless), /no YOLOv8 head/);
    const { activations } = calibrationModel(reshapeYoloInput(bytes, { width: 640, height: 384 }));
    assert.throws(() => quantizeModel(bytes, new Map(activations.slice(1).map((t) => [t, { min: 0, max: 1 }]))), /no calibrated range for images/);
  });

  it("switches a detector to int8 at the cameras' size after checking it", async () => {
    const detector = new Detector(await YoloModel.load(DEFAULT_MODEL_PATH, { threads: 1 }));
    const load = async ({ size, precision }: Variant, frames: readonly RgbImage[]) => {
      const reshaped = await ensureReshapedModel(DEFAULT_MODEL_PATH, size, dir);
      const file = precision === 'int8' ? (await ensureQuantizedModel(reshaped, frames, mkdtempSync(path.join(tmpdir(), 'int8-')), 'native')).file : reshaped;
      return { models: [await YoloModel.load(file, { threads: 1 })], made: `calibrated on ${frames.length} camera frames` };
    };
    const fitter = new ShapeFitter(detector, 640, load, { fitShape: true, int8: true, settleMs: 20, frameIntervalMs: 20, collectMs: 400 });
    for (const frame of camera) await detector.detect(frame, EVERY_CLASS, 'door');
    for (let i = 0; i < 600 && fitter.state().note === null; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    const { input, precision, note } = fitter.state();
    assert.deepEqual({ input, precision }, { input: '640x480', precision: 'int8' }, note ?? '');
    assert.match(note!, /^int8 640x480 from fp32 640x640; (\d+) of \d+ detections agreed on \d+ camera frames?, median score difference 0\.0\d\d; calibrated on \d+ camera frames?$/);
    await fitter.close();
    await detector.close();
  });

  it('falls back to float at the fitted size when the int8 copy disagrees, and says so', async () => {
    const detector = new Detector(await YoloModel.load(DEFAULT_MODEL_PATH, { threads: 1 }));
    const blind = blindModel(640, 480);
    const load = async ({ size, precision }: Variant) =>
      precision === 'int8' ? { models: [blind.model] } : { models: [await YoloModel.load(await ensureReshapedModel(DEFAULT_MODEL_PATH, size, dir), { threads: 1 })] };
    const fitter = new ShapeFitter(detector, 640, load, { fitShape: true, int8: true, settleMs: 20, frameIntervalMs: 20, collectMs: 100 });
    await detector.detect(photos[0], EVERY_CLASS, 'door');
    for (let i = 0; i < 600 && fitter.state().note === null; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.equal(fitter.state().precision, 'fp32');
    assert.equal(fitter.state().input, '640x480');
    assert.match(fitter.state().note!, /^fp32 640x480 from fp32 640x640; the int8 640x480 model disagreed with it: 0 of \d+ detections agreed on 1 camera frame, median score difference 0\.000; \d+ of \d+ detections agreed on 1 camera frame$/);
    assert.ok(blind.released(), 'the refused int8 copy is released');
    await fitter.close();
    await detector.close();
  });
});
