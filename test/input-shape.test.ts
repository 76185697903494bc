import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Detector, type DetectOptions } from '../src/detection/detector';
import { anchorCount, anchorGrid, fittingInputSize, parseSize, reshapeYoloInput } from '../src/detection/input-shape';
import { DEFAULT_MODEL_PATH, YoloModel } from '../src/detection/model';
import { encodeFields, messageField, stringField, varintField } from '../src/detection/protobuf';
import { agreement, ensureReshapedModel, REQUIRED_AGREEMENT, ShapeFitter, type Variant } from '../src/detection/shape-fitter';
import { decodeImage } from '../src/imaging/image';
import type { Detection, RgbImage } from '../src/types';
import { blindModel, DARKNET_DATA, requireFile, requireModel } from './support';

const EVERY_CLASS: DetectOptions = { confidence: 0.25, iou: 0.45, classes: null, maxDetections: 300 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Rectangular model input: sizes and the anchor grid', () => {
  it('counts the anchors of the three detection levels', () => {
    assert.equal(anchorCount({ width: 640, height: 640 }), 8400);
    assert.equal(anchorCount({ width: 640, height: 480 }), 6300);
    assert.equal(anchorCount({ width: 640, height: 384 }), 5040);
  });

  it('lays the grid out level by level, row by row: every x, then every y', () => {
    const { centres, strides } = anchorGrid({ width: 64, height: 32 });
    // 8×4 anchors at stride 8, 4×2 at 16, 2×1 at 32.
    assert.equal(strides.length, 32 + 8 + 2);
    assert.deepEqual([...strides.slice(30, 34)], [8, 8, 16, 16]);
    assert.deepEqual([...centres.slice(0, 9)], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 0.5]);
    assert.deepEqual([...centres.slice(42, 42 + 9)], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 1.5]);
    assert.deepEqual([...centres.slice(40, 42)], [0.5, 1.5], 'the last level: two anchors in one row');
    assert.deepEqual([...centres.slice(82, 84)], [0.5, 0.5]);
  });

  it("fits the input to the cameras' frames at the square model's scale", () => {
    assert.deepEqual(fittingInputSize([{ width: 768, height: 576 }], 640), { width: 640, height: 480 }, '4:3');
    assert.deepEqual(fittingInputSize([{ width: 1920, height: 1080 }], 640), { width: 640, height: 384 }, '16:9: 360 rounded up to a stride');
    assert.deepEqual(fittingInputSize([{ width: 1080, height: 1920 }], 640), { width: 384, height: 640 }, 'portrait');
    assert.deepEqual(fittingInputSize([{ width: 320, height: 240 }], 640), { width: 640, height: 480 }, 'small frames are scaled up, as into the square');
    assert.deepEqual(fittingInputSize([{ width: 1920, height: 1080 }, { width: 640, height: 480 }], 640), { width: 640, height: 480 }, 'the largest of the cameras');
    assert.deepEqual(fittingInputSize([{ width: 1920, height: 1080 }, { width: 1080, height: 1920 }], 640), { width: 640, height: 640 });
    assert.deepEqual(fittingInputSize([], 640), { width: 640, height: 640 });
  });

  it('reads sizes written as 640x384', () => {
    assert.deepEqual(parseSize('640x384'), { width: 640, height: 384 });
    assert.deepEqual(parseSize(' 640 × 480 '), { width: 640, height: 480 });
    assert.equal(parseSize('640'), null);
  });

  it('counts the sure boxes each model finds that the other finds too', () => {
    const box = (bbox: [number, number, number, number], score: number, classId = 0): Detection => ({ classId, label: `class ${classId}`, score, bbox });
    const reference = [[box([0, 0, 10, 10], 0.9), box([50, 50, 60, 60], 0.3)], [box([0, 0, 10, 20], 0.8, 2)]];
    const candidate = [[box([0, 0, 10, 11], 0.3), box([50, 50, 60, 60], 0.7)], [box([0, 0, 10, 20], 0.8, 3)]];
    // Image 1: each model's sure box is in the other's list (IoU 0.91 and 1); image 2: the classes differ, twice.
    const { compared, agreed, scoreDifference } = agreement(reference, candidate);
    assert.deepEqual({ compared, agreed }, { compared: 4, agreed: 2 });
    assert.ok(Math.abs(scoreDifference - 0.6) < 1e-9, 'the median of 0.6 and 0.4, taken from above');
    assert.equal(agreement(reference, candidate, 0.95).agreed, 1, 'a stricter overlap lets the box one pixel taller go');
  });
});

describe('Rectangular model input: the YOLOv8n export edited', function () {
  let bytes: Buffer;
  const photos = new Map<string, RgbImage>();
  const loaded: YoloModel[] = [];
  const load = async (file: string) => {
    const model = await YoloModel.load(file, { threads: 1 });
    loaded.push(model);
    return model;
  };

  before(async function () {
    requireModel(this);
    for (const name of ['dog', 'person', 'kite']) {
      const file = requireFile(this, path.join(DARKNET_DATA, `${name}.jpg`), "darknet's sample photos (Debian package darknet)");
      photos.set(name, await decodeImage(readFileSync(file)));
    }
    bytes = readFileSync(DEFAULT_MODEL_PATH);
  });

  after(async () => {
    await Promise.all(loaded.map((m) => m.release()));
  });

  it('regenerated for its own 640×640, it detects exactly what the original does', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'reshape-'));
    const square = path.join(dir, 'square.onnx');
    writeFileSync(square, reshapeYoloInput(bytes, { width: 640, height: 640 }));
    const original = new Detector(await load(DEFAULT_MODEL_PATH));
    const regenerated = new Detector(await load(square));
    for (const [name, image] of photos) {
      const a = await original.detect(image, EVERY_CLASS);
      const b = await regenerated.detect(image, EVERY_CLASS);
      assert.ok(a.detections.length > 0, name);
      assert.deepEqual(b.detections, a.detections, name);
    }
  });

  it("at each photo's fitted size, it finds the same objects as the square model", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'reshape-'));
    const square = new Detector(await load(DEFAULT_MODEL_PATH));
    for (const [name, image] of photos) {
      const size = fittingInputSize([image], 640);
      const file = await ensureReshapedModel(DEFAULT_MODEL_PATH, size, dir);
      const model = await load(file);
      assert.deepEqual([model.inputWidth, model.inputHeight], [size.width, size.height], name);
      const fitted = new Detector(model);
      const reference = (await square.detect(image, EVERY_CLASS)).detections;
      const candidate = (await fitted.detect(image, EVERY_CLASS)).detections;
      const { compared, agreed } = agreement([reference], [candidate]);
      assert.ok(compared > 0 && agreed / compared >= REQUIRED_AGREEMENT, `${name} at ${size.width}x${size.height}: ${agreed} of ${compared} agreed`);
    }
  });

  it('makes each reshaped copy once, named by the source checksum and size', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'reshape-'));
    const first = await ensureReshapedModel(DEFAULT_MODEL_PATH, { width: 640, height: 384 }, dir);
    const made = statSync(first).mtimeMs;
    await sleep(20);
    const again = await ensureReshapedModel(DEFAULT_MODEL_PATH, { width: 640, height: 384 }, dir);
    assert.equal(again, first);
    assert.equal(statSync(again).mtimeMs, made);
    assert.match(path.basename(first), /^yolov8n-[0-9a-f]{16}-640x384\.onnx$/);
  });

  it('refuses sizes that are not whole strides, and models it does not recognise', () => {
    assert.throws(() => reshapeYoloInput(bytes, { width: 640, height: 360 }), /must be whole multiples of 32/);
    // ModelProto { ir_version, graph { name, input { name, type { tensor_type { elem_type, shape { dim… } } } } } }
    const imageModel = (dims: (number | string)[]) =>
      encodeFields([
        varintField(1, 8),
        messageField(7, [
          stringField(2, 'g'),
          messageField(11, [
            stringField(1, 'images'),
            messageField(2, [messageField(1, [varintField(1, 1), messageField(2, dims.map((d) => messageField(1, [typeof d === 'number' ? varintField(1, d) : stringField(2, d)])))])]),
          ]),
        ]),
      ]);
    const dynamic = imageModel([1, 3, 'h', 'w']);
    assert.throws(() => reshapeYoloInput(dynamic, { width: 640, height: 480 }), /does not have one fixed image input/);
    const noGrid = imageModel([1, 3, 640, 640]);
    assert.throws(() => reshapeYoloInput(noGrid, { width: 640, height: 480 }), /no YOLOv8 anchor grid/);
  });
});

describe("Rectangular model input: fitted to a detector's cameras", function () {
  before(function () {
    requireModel(this);
    requireFile(this, path.join(DARKNET_DATA, 'dog.jpg'), "darknet's sample photos (Debian package darknet)");
  });

  it("switches to the fitted input once the cameras' frames are known, after checking it", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'reshape-'));
    const image = await decodeImage(readFileSync(path.join(DARKNET_DATA, 'dog.jpg')));
    const detector = new Detector(await YoloModel.load(DEFAULT_MODEL_PATH, { threads: 1 }));
    const lines: string[] = [];
    const load = async ({ size }: Variant) => ({ models: [await YoloModel.load(await ensureReshapedModel(DEFAULT_MODEL_PATH, size, dir), { threads: 1 })] });
    const fitter = new ShapeFitter(detector, 640, load, { fitShape: true, int8: false, settleMs: 20 }, (line) => lines.push(line));
    const before = (await detector.detect(image, EVERY_CLASS, 'door')).detections;
    for (let i = 0; i < 200 && fitter.state().input === '640x640'; i++) await sleep(25);
    assert.equal(fitter.state().input, '640x480');
    assert.match(fitter.state().note!, /^fp32 640x480 from fp32 640x640; (\d+) of \1 detections agreed on 1 camera frame$/);
    assert.deepEqual([detector.model.inputWidth, detector.model.inputHeight], [640, 480]);
    const after = (await detector.detect(image, EVERY_CLASS, 'door')).detections;
    assert.deepEqual(after.map((d) => d.label).sort(), before.map((d) => d.label).sort());
    assert.equal(lines.length, 1);
    await fitter.close();
    await detector.close();
  });

  it('keeps the input in use when the new one disagrees with it, and says why', async () => {
    const image = await decodeImage(readFileSync(path.join(DARKNET_DATA, 'dog.jpg')));
    const detector = new Detector(await YoloModel.load(DEFAULT_MODEL_PATH, { threads: 1 }));
    const blind = blindModel(640, 480);
    const fitter = new ShapeFitter(detector, 640, async () => ({ models: [blind.model] }), { fitShape: true, int8: false, settleMs: 20 });
    await detector.detect(image, EVERY_CLASS, 'door');
    for (let i = 0; i < 200 && fitter.state().note === null; i++) await sleep(25);
    assert.match(fitter.state().note!, /^kept fp32 640x640: the fp32 640x480 model disagreed with it: 0 of \d+ detections agreed on 1 camera frame$/);
    assert.equal(detector.model.inputHeight, 640);
    assert.ok(blind.released(), 'the refused copy is released');
    await fitter.close();
    await detector.close();
  });
});
