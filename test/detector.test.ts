import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Detector, postprocess, type DetectOptions } from '../src/detection/detector';
import { fillInputTensor, letterboxImage } from '../src/imaging/letterbox';
import { keepAnchors } from '../src/detection/anchors';
import { decodeImage } from '../src/imaging/image';
import { DEFAULT_MODEL_PATH, YoloModel } from '../src/detection/model';
import { DARKNET_DATA, requireFile, requireModel } from './support';

const LOW_CONFIDENCE: DetectOptions = { confidence: 0.25, iou: 0.45, classes: null, maxDetections: 300 };

describe('YOLOv8n on real photos', function () {
  let model: YoloModel;
  let detector: Detector;

  before(async function () {
    requireModel(this);
    requireFile(this, path.join(DARKNET_DATA, 'person.jpg'), "darknet's sample photos (Debian package darknet)");
    model = await YoloModel.load(DEFAULT_MODEL_PATH);
    detector = new Detector(model);
  });

  after(async () => {
    await model?.release();
  });

  it('reads the input size and class names from the model', () => {
    assert.deepEqual([model.inputWidth, model.inputHeight, model.classNames.length], [640, 640, 80]);
    assert.equal(model.labelOf(0), 'person');
  });

  it('finds the person in person.jpg where Ultralytics does', async () => {
    const image = await decodeImage(readFileSync(path.join(DARKNET_DATA, 'person.jpg')));
    const { detections } = await detector.detect(image, LOW_CONFIDENCE);
    const people = detections.filter((d) => d.label === 'person');
    assert.equal(people.length, 1);
    const [x1, y1, x2, y2] = people[0].bbox;
    for (const [actual, expected] of [[x1, 191], [y1, 100], [x2, 276], [y2, 375]]) {
      assert.ok(Math.abs(actual - expected) <= 3, `box ${people[0].bbox} not within 3 px of [191, 100, 276, 375]`);
    }
    assert.ok(Math.abs(people[0].score - 0.92) < 0.01, `score ${people[0].score}`);
    assert.deepEqual(detections.map((d) => d.label).sort(), ['dog', 'horse', 'person']);
  });

  it('finds several small people in kite.jpg, and only people with the default class filter', async () => {
    const image = await decodeImage(readFileSync(path.join(DARKNET_DATA, 'kite.jpg')));
    const { detections } = await detector.detect(image, { ...LOW_CONFIDENCE, classes: new Set([0]) });
    assert.ok(detections.length >= 5, `${detections.length} people`);
    assert.ok(detections.every((d) => d.classId === 0));
    const scores = detections.map((d) => d.score);
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a), 'best score first');
    for (const d of detections) {
      assert.ok(d.bbox[0] >= 0 && d.bbox[2] <= image.width && d.bbox[1] >= 0 && d.bbox[3] <= image.height);
    }
  });

  it('gets only the anchors decoding reads from the worker thread, and exactly the same detections from them', async () => {
    const photos = ['person.jpg', 'kite.jpg', 'dog.jpg', 'horses.jpg'].map((name) => path.join(DARKNET_DATA, name));
    const size = 3 * model.inputWidth * model.inputHeight;
    for (const confidence of [0.1, 0.25, 0.5]) {
      const options = { ...LOW_CONFIDENCE, confidence };
      for (const file of photos) {
        const image = await decodeImage(readFileSync(file));
        const { resized, letterbox } = await letterboxImage(image, model.inputWidth, model.inputHeight);
        const tensor = new Float32Array(size);
        fillInputTensor(resized, letterbox, tensor, 0);
        const whole = await model.run(tensor.slice(), 1);
        const kept = await model.run(tensor, 1, confidence);
        assert.equal(whole.images[0].anchors, 8400);
        assert.ok(kept.images[0].anchors > 0 && kept.images[0].anchors < 8400 / 4, `${path.basename(file)} at ${confidence}: ${kept.images[0].anchors} of 8400 anchors kept`);
        const decode = (out: typeof whole) => postprocess(out.images[0].data, out.channels, out.images[0].anchors, letterbox, image, model, options);
        assert.deepEqual(decode(kept), decode(whole), `${path.basename(file)} at confidence ${confidence}`);
      }
    }
  });

  it('keeps each image\'s anchors with a class score above the threshold, in order, image after image', () => {
    // Two images, 4 + 2 channels, 3 anchors each; channel-major within an image.
    const output = Float32Array.from([
      ...[1, 2, 3, 11, 12, 13, 21, 22, 23, 31, 32, 33, 0.1, 0.6, 0.2, 0.3, 0.1, 0.9],
      ...[4, 5, 6, 14, 15, 16, 24, 25, 26, 34, 35, 36, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3],
    ]);
    const { data, kept } = keepAnchors(output, 2, 6, 3, 0.25);
    assert.deepEqual(kept, [3, 1]);
    assert.deepEqual([...data], [1, 2, 3, 11, 12, 13, 21, 22, 23, 31, 32, 33, 0.1, 0.6, 0.2, 0.3, 0.1, 0.9, 6, 16, 26, 36, 0.3, 0.3].map(Math.fround));
    assert.deepEqual(keepAnchors(output, 2, 6, 3, 0.95).kept, [0, 0], 'nothing above: empty blocks');
  });

  it('gives the same boxes for requests that queue up together', async () => {
    const images = await Promise.all(['person.jpg', 'dog.jpg', 'horses.jpg'].map((name) => decodeImage(readFileSync(path.join(DARKNET_DATA, name)))));
    const alone = [];
    for (const image of images) alone.push(await detector.detect(image, LOW_CONFIDENCE));
    const together = await Promise.all(images.map((image) => detector.detect(image, LOW_CONFIDENCE)));
    assert.deepEqual(together.map((r) => r.detections), alone.map((r) => r.detections));
  });

  it('rejects pixels that do not match the stated size, and goes on working', async () => {
    await assert.rejects(detector.detect({ pixels: new Uint8Array(10), width: 4, height: 4 }), /needs 48 bytes/);
    const image = await decodeImage(readFileSync(path.join(DARKNET_DATA, 'person.jpg')));
    assert.ok((await detector.detect(image, LOW_CONFIDENCE)).detections.length > 0);
  });

  it('explains an execution provider ONNX Runtime does not have', async () => {
    await assert.rejects(YoloModel.load(DEFAULT_MODEL_PATH, { executionProvider: 'no-such-provider' }), /cannot load .* with the "no-such-provider" execution provider/);
  });

  it('explains a missing or corrupt model file', async () => {
    await assert.rejects(YoloModel.load('/nonexistent/model.onnx'), /cannot read model file \/nonexistent\/model.onnx/);
    const corrupt = path.join(tmpdir(), `corrupt-${process.pid}.onnx`);
    writeFileSync(corrupt, 'this is not a model');
    await assert.rejects(YoloModel.load(corrupt), /is not a loadable ONNX model/);
  });

  it('explains an image it cannot decode, and refuses one too large before decoding it', async () => {
    await assert.rejects(decodeImage(Buffer.from('not an image')), /not a decodable image/);
    await assert.rejects(decodeImage(Buffer.alloc(0)), /empty/);
    // A 20000x20000 PNG is a few hundred KB (zlib) and would be 1.2 GB decoded: refused from its header.
    const { default: sharp } = await import('sharp');
    const bomb = await sharp({ create: { width: 20000, height: 20000, channels: 3, background: '#000' }, limitInputPixels: false }).png({ compressionLevel: 9 }).toBuffer();
    await assert.rejects(decodeImage(bomb), /20000x20000 \(400\.0 megapixels\); the limit is 50\.0 megapixels/);
    await assert.rejects(decodeImage(await sharp({ create: { width: 40, height: 30, channels: 3, background: '#000' } }).png().toBuffer(), 1000), /40x30/);
  });
});

describe('Detector batching', () => {
  /** A stand-in model with a dynamic batch: records batch sizes and echoes each image's slot in its output. */
  function recordingModel() {
    const batches: number[] = [];
    const model = {
      inputWidth: 8,
      inputHeight: 8,
      maxBatch: Infinity,
      labelOf: (id: number) => `class ${id}`,
      health: () => ({ state: 'ready', restarts: 0, lastError: null }),
      async run(input: Float32Array, batch: number) {
        batches.push(batch);
        assert.equal(input.length, batch * 3 * 64);
        // One anchor, one class per image: a box whose centre x encodes the red value of the image.
        const data = new Float32Array(batch * 5);
        for (let b = 0; b < batch; b++) {
          data.set([2 + input[b * 192 + 27] * 4, 4, 2, 2, 0.9], b * 5);
        }
        return { channels: 5, images: Array.from({ length: batch }, (_, b) => ({ data: data.subarray(b * 5, b * 5 + 5), anchors: 1 })), input, runMs: 0 };
      },
    };
    return { model, batches };
  }

  const solid = (red: number) => ({ pixels: new Uint8Array(8 * 8 * 3).map((_, i) => (i % 3 === 0 ? red : 0)), width: 8, height: 8 });

  it('runs requests that wait together as one batch and returns each its own result', async () => {
    const { model, batches } = recordingModel();
    const detector = new Detector(model as unknown as YoloModel, 4);
    const results = await Promise.all([0, 51, 102, 153, 204].map((red) => detector.detect(solid(red), { ...LOW_CONFIDENCE, classes: null })));
    assert.deepEqual(batches, [1, 4], 'the first request runs at once, the next four wait and share a run');
    assert.deepEqual(results.map((r) => r.batchSize), [1, 4, 4, 4, 4]);
    assert.deepEqual(results.map((r) => +((r.detections[0].bbox[0] + r.detections[0].bbox[2]) / 2).toFixed(2)), [2, 2.8, 3.6, 4.4, 5.2]);
  });

  it('finishes the run in progress on close, fails what waits, and refuses new work', async () => {
    const { model, batches } = recordingModel();
    let released = false;
    const closable = Object.assign(model, { release: async () => void (released = true) });
    const detector = new Detector(closable as unknown as YoloModel, 4);
    const running = detector.detect(solid(1));
    const waiting = detector.detect(solid(2));
    await detector.close();
    assert.equal((await running).detections.length, 1);
    await assert.rejects(waiting, /closed/);
    await assert.rejects(detector.detect(solid(3)), /closed/);
    assert.deepEqual(batches, [1]);
    assert.ok(released);
  });

  it('serves a request made just as the one before it resolves', async () => {
    const { model } = recordingModel();
    const detector = new Detector(model as unknown as YoloModel, 4);
    // A request that comes while a drain is finishing (a few microtasks after the previous result) must start the
    // next drain, not wait for another request: tried at each distance.
    for (let hops = 0; hops < 8; hops++) {
      await detector.detect(solid(1));
      for (let i = 0; i < hops; i++) await null;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`a request ${hops} microtasks after a result was never served`)), 2000)));
      await Promise.race([detector.detect(solid(2)), late]).finally(() => clearTimeout(timer));
    }
  });

  it('never batches beyond what the model accepts', async () => {
    const { model, batches } = recordingModel();
    model.maxBatch = 1;
    const detector = new Detector(model as unknown as YoloModel, 4);
    await Promise.all([1, 2, 3].map((red) => detector.detect(solid(red))));
    assert.deepEqual(batches, [1, 1, 1]);
  });
});

describe('A model whose worker thread dies', function () {
  this.timeout(60000);

  it('fails the frames it had in hand with the reason, starts a new worker, and detects again', async function () {
    requireModel(this);
    requireFile(this, path.join(DARKNET_DATA, 'person.jpg'), "darknet's sample photos (Debian package darknet)");
    const model = await YoloModel.load(DEFAULT_MODEL_PATH, { restartInitialMs: 200 });
    const detector = new Detector(model);
    const image = await decodeImage(readFileSync(path.join(DARKNET_DATA, 'person.jpg')));
    const people = async () => (await detector.detect(image, LOW_CONFIDENCE)).detections.filter((d) => d.label === 'person').length;
    try {
      assert.equal(await people(), 1);
      // As a crash in ONNX Runtime's thread would: the worker is gone while a frame waits for it.
      const inHand = detector.detect(image, LOW_CONFIDENCE);
      await (model as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      await assert.rejects(inHand, /worker thread stopped \(exit code 1\); starting it again/);
      assert.equal(model.health().state, 'restarting');
      await assert.rejects(detector.detect(image, LOW_CONFIDENCE), /being loaded again/, 'frames asked for meanwhile fail with the reason, not silence');
      const started = Date.now();
      while (model.health().state !== 'ready' && Date.now() - started < 20000) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual([model.health().state, model.health().restarts], ['ready', 1]);
      assert.match(model.health().lastError!, /exit code 1/);
      assert.equal(await people(), 1, 'the new worker detects as before');
    } finally {
      await detector.close();
    }
    assert.equal(model.health().state, 'released');
  });
});
