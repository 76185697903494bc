import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { APPEARANCE_BINS } from '../src/detection/appearance';
import { decodeImage } from '../src/imaging/image';
import helper from 'node-red-node-test-helper';
import { frameStore } from '../src/camera/frame-store';
import { startRedis, stopAllRedis } from './redis';
import { DARKNET_DATA, ROOT, requireFile, requireModel, requireVtest, waitFor } from './support';

helper.init(require.resolve('node-red'));

const cameraSource = require('../nodes/camera-source');
const yoloModel = require('../nodes/yolo-model');
const yoloDetect = require('../nodes/yolo-detect');
const sortTrack = require('../nodes/sort-track');
const zoneAnalytics = require('../nodes/zone-analytics');
const heatmapNode = require('../nodes/heatmap');
const apiOut = require('../nodes/api-out');
const posConversion = require('../nodes/pos-conversion');
const redisConfig = require('../nodes/redis-config');
const fleetPublish = require('../nodes/fleet-publish');
const fleetAggregate = require('../nodes/fleet-aggregate');
const coreNode = (file: string) => require(require.resolve(`@node-red/nodes/core/common/${file}`));
const catchNode = coreNode('25-catch.js');
const statusNode = coreNode('25-status.js');

type Msg = Record<string, any>;

/** Collects what arrives at a helper node. */
function collect(id: string): Msg[] {
  const received: Msg[] = [];
  helper.getNode(id).on('input', (msg: Msg) => received.push(msg));
  return received;
}

const catcher = (tab = 'tab') => [
  { id: 'catch-all', type: 'catch', z: tab, scope: null, uncaught: false, wires: [['errors']] },
  { id: 'errors', type: 'helper', z: tab },
  { id: 'status-all', type: 'status', z: tab, scope: null, wires: [['statuses']] },
  { id: 'statuses', type: 'helper', z: tab },
];

describe('Node-RED nodes', function () {
  beforeEach(function (done) {
    helper.startServer(done);
  });

  afterEach(async function () {
    await helper.unload();
    await new Promise<void>((resolve) => helper.stopServer(resolve));
  });

  describe('camera-source', () => {
    const camera = (extra: Msg = {}) => ({
      id: 'cam', type: 'camera-source', z: 'tab', name: 'Entrance', cameraId: 'entrance', source: 'sample:vtest.avi',
      loop: true, realtime: false, width: 192, height: 0, fps: 0, autostart: true, wires: [['out']], ...extra,
    });

    it('sends one small frame reference per frame, in order, with pixels in the frame store', async function () {
      requireVtest(this);
      await helper.load([cameraSource, catchNode, statusNode], [{ id: 'tab', type: 'tab' }, camera(), { id: 'out', type: 'helper', z: 'tab' }, ...catcher()]);
      const out = collect('out');
      await waitFor(() => out.length >= 10, 10000, 'ten frames');
      const first = out[0];
      assert.deepEqual(Object.keys(first.frame).sort(), ['cameraId', 'dropped', 'height', 'seq', 'timestamp', 'width']);
      assert.deepEqual([first.frame.cameraId, first.frame.width, first.frame.height, first.topic], ['entrance', 192, 144, 'entrance']);
      assert.deepEqual(out.slice(0, 10).map((m) => m.frame.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      const latest = out.at(-1)!.frame;
      assert.equal(frameStore.get(latest)?.pixels.length, 192 * 144 * 3);
      assert.ok(JSON.stringify(first).length < 400, 'the message carries no pixels');
    });

    it('stops and starts on command and reports unknown commands to Catch nodes', async function () {
      requireVtest(this);
      await helper.load([cameraSource, catchNode, statusNode], [{ id: 'tab', type: 'tab' }, camera({ autostart: false }), { id: 'out', type: 'helper', z: 'tab' }, ...catcher()]);
      const out = collect('out');
      const errors = collect('errors');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(out.length, 0, 'not started on deploy');
      const cam = helper.getNode('cam');
      cam.receive({ payload: 'start' });
      await waitFor(() => out.length >= 3, 10000, 'frames after start');
      cam.receive({ payload: 'stop' });
      await waitFor(() => helper.getNode('cam') && out.length > 0, 100, 'stop');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const stoppedAt = out.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(out.length, stoppedAt, 'no frames after stop');
      cam.receive({ payload: 'rewind' });
      await waitFor(() => errors.length === 1, 2000, 'an error for the unknown command');
      assert.match(errors[0].error.message, /unknown command "rewind"/);
    });

    it('reports a missing file with a red status and an error a Catch node receives', async () => {
      await helper.load([cameraSource, catchNode, statusNode], [
        { id: 'tab', type: 'tab' }, camera({ source: '/nonexistent/door.mp4' }), { id: 'out', type: 'helper', z: 'tab' }, ...catcher(),
      ]);
      const errors = collect('errors');
      const statuses = collect('statuses');
      await waitFor(() => errors.length > 0 && statuses.some((s) => s.status.fill === 'red'), 10000, 'error and red status');
      assert.match(errors[0].error.message, /\/nonexistent\/door.mp4/);
      assert.equal(errors[0].error.source.id, 'cam');
    });

    it('opens a stream with its credentials and never shows the password in status or errors', async () => {
      // Nothing listens on port 9 of loopback: every attempt fails, and each failure is reported.
      await helper.load(
        [cameraSource, catchNode, statusNode],
        [{ id: 'tab', type: 'tab' }, camera({ source: 'http://127.0.0.1:9/video.mjpg' }), { id: 'out', type: 'helper', z: 'tab' }, ...catcher()],
        { cam: { username: 'admin', password: 'Sup3rSecret!' } },
      );
      const errors = collect('errors');
      const statuses = collect('statuses');
      await waitFor(() => errors.length >= 2 && statuses.some((s) => /reconnecting/.test(s.status.text)), 20000, 'failed attempts');
      const shown = JSON.stringify([errors.map((e) => e.error.message), statuses.map((s) => s.status.text)]);
      assert.ok(!shown.includes('Sup3rSecret'), shown);
      assert.match(errors[0].error.message, /http:\/\/admin:\*\*\*@127\.0\.0\.1:9\/video\.mjpg/, 'the credentials were put into the URL');
    });

    it('refuses a second camera with the same id', async function () {
      requireVtest(this);
      await helper.load([cameraSource, catchNode, statusNode], [
        { id: 'tab', type: 'tab' }, camera(), camera({ id: 'cam2' }), { id: 'out', type: 'helper', z: 'tab' }, ...catcher(),
      ]);
      const errors = collect('errors');
      const out = collect('out');
      helper.getNode('cam2').receive({ payload: 'start' });
      await waitFor(() => errors.length > 0, 2000, 'an error for the misconfigured node');
      assert.match(errors[0].error.message, /entrance cannot run: camera id "entrance" is already used by another camera-source node/);
      assert.equal(errors[0].error.source.id, 'cam2');
      await waitFor(() => out.length > 0, 5000, 'frames from the first camera');
    });
  });

  describe('yolo-detect', function () {
    const flow = (detect: Msg = {}, model: Msg = {}) => [
      { id: 'tab', type: 'tab' },
      { id: 'model', type: 'yolo-model', name: '', modelPath: '', threads: 0, inputSize: 0, maxBatch: 4, ...model },
      { id: 'detect', type: 'yolo-detect', z: 'tab', model: 'model', confidence: 0.25, iou: 0.45, classes: 'person', wires: [['out']], ...detect },
      { id: 'out', type: 'helper', z: 'tab' },
      ...catcher(),
    ];

    it('detects people in an encoded image in msg.payload and keeps the rest of the message', async function () {
      requireModel(this);
      const photo = requireFile(this, path.join(DARKNET_DATA, 'person.jpg'), "darknet's sample photos");
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow());
      const out = collect('out');
      helper.getNode('detect').receive({ payload: readFileSync(photo), topic: 'till 3' });
      await waitFor(() => out.length === 1, 20000, 'detections');
      assert.equal(out[0].topic, 'till 3');
      assert.deepEqual(out[0].detections.map((d: Msg) => d.label), ['person']);
      assert.deepEqual(Object.keys(out[0].detections[0]).sort(), ['bbox', 'classId', 'label', 'score']);
    });

    it('gives each detection the colours of its upper body when Colours is ticked', async function () {
      requireModel(this);
      const photo = requireFile(this, path.join(DARKNET_DATA, 'person.jpg'), "darknet's sample photos");
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow({ colours: true }));
      const out = collect('out');
      helper.getNode('detect').receive({ payload: readFileSync(photo) });
      await waitFor(() => out.length === 1, 20000, 'detections');
      const { appearance } = out[0].detections[0];
      assert.equal(appearance.length, APPEARANCE_BINS);
      assert.ok(Math.abs(appearance.reduce((sum: number, v: number) => sum + v, 0) - 1) < 1e-9, 'a histogram summing to 1');
    });

    it('says the model is loading, then ready, and explains an image too large to decode', async function () {
      requireModel(this);
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow());
      const statuses = collect('statuses');
      const errors = collect('errors');
      await waitFor(() => statuses.some((s) => s.status.text === 'model ready'), 20000, 'the model ready');
      const texts = statuses.map((s) => s.status.text);
      assert.ok(!texts.includes('fetching model…'), `a local copy is taken without fetching: ${texts}`);
      const { default: sharp } = await import('sharp');
      const bomb = await sharp({ create: { width: 20000, height: 20000, channels: 3, background: '#000' }, limitInputPixels: false }).png({ compressionLevel: 9 }).toBuffer();
      helper.getNode('detect').receive({ payload: bomb });
      await waitFor(() => errors.length === 1, 10000, 'an error');
      assert.match(errors[0].error.message, /20000x20000 .* the limit is 50\.0 megapixels/);
      helper.getNode('detect').receive({ payload: 'not an image' });
      await waitFor(() => errors.length === 2, 2000, 'a second error');
      assert.match(errors[1].error.message, /yolo-detect needs msg.frame from a camera-source node, or an encoded image/);
      assert.equal(errors[0].error.source.id, 'detect');
    });

    it('detects with the model chosen in Model (YOLOv8s) and names it in its status', async function () {
      const small = requireFile(this, path.join(ROOT, 'models', 'yolov8s.onnx'), 'YOLOv8s in models/', '"retail-analytics fetch-model --model yolov8s" fetches it');
      const photo = requireFile(this, path.join(DARKNET_DATA, 'person.jpg'), "darknet's sample photos");
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow({}, { size: 'yolov8s' }));
      const out = collect('out');
      await waitFor(() => (helper.getNode('model') as unknown as { modelPath: string }).modelPath.endsWith('yolov8s.onnx'), 1000, 'the YOLOv8s path');
      helper.getNode('detect').receive({ payload: readFileSync(photo) });
      await waitFor(() => out.length === 1, 30000, 'detections');
      assert.deepEqual(out[0].detections.map((d: Msg) => d.label), ['person']);
      assert.ok(small);
    });

    it('refuses a Model it does not know, saying which it offers', async function () {
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow({}, { size: 'yolov8x' }));
      const errors = collect('errors');
      helper.getNode('detect').receive({ payload: Buffer.from('an image') });
      await waitFor(() => errors.length === 1, 10000, 'an error');
      assert.match(errors[0].error.message, /unknown model "yolov8x": choose yolov8n, yolov8s, yolov8m or set a model file/);
    });

    it('bounds images by its "Largest image" setting and refuses a setting below 1 pixel at deploy', async function () {
      requireModel(this);
      const { default: sharp } = await import('sharp');
      const png = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#000' } }).png().toBuffer();
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow({ maxMegapixels: 0.01 }));
      const errors = collect('errors');
      helper.getNode('detect').receive({ payload: png });
      await waitFor(() => errors.length === 1, 20000, 'an error');
      assert.match(errors[0].error.message, /msg.payload: the image is 200x100 \(0.020 megapixels\); the limit is 0.010 megapixels \(yolo-detect's "Largest image" setting\)/);
      await helper.unload();
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow({ maxMegapixels: -1 }));
      const more = collect('errors');
      helper.getNode('detect').receive({ payload: png });
      await waitFor(() => more.length === 1, 20000, 'an error');
      assert.match(more[0].error.message, /Largest image must be above 0 megapixels, got -1/);
    });

    it('refuses images beyond 32 in progress instead of queueing a flood, and processes the rest', async function () {
      requireModel(this);
      const { default: sharp } = await import('sharp');
      const png = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#777' } }).png().toBuffer();
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow());
      const out = collect('out');
      const errors = collect('errors');
      for (let i = 0; i < 40; i++) helper.getNode('detect').receive({ payload: png, topic: `image ${i}` });
      await waitFor(() => out.length + errors.length === 40, 30000, 'every image answered');
      assert.deepEqual([out.length, errors.length], [32, 8]);
      assert.match(errors[0].error.message, /32 images are being detected already: send images no faster than the node detects them/);
      helper.getNode('detect').receive({ payload: png });
      await waitFor(() => out.length === 33, 20000, 'one more after the flood');
    });

    it('detects people in camera frames', async function () {
      requireModel(this);
      requireVtest(this);
      await helper.load([cameraSource, yoloModel, yoloDetect, catchNode, statusNode], [
        ...flow(),
        { id: 'cam', type: 'camera-source', z: 'tab', cameraId: 'lobby', source: 'sample:vtest.avi', loop: true, realtime: true, width: 0, height: 0, fps: 0, autostart: true, wires: [['detect']] },
      ]);
      const out = collect('out');
      const statuses = collect('statuses');
      await waitFor(() => out.length >= 5, 30000, 'five detected frames');
      assert.ok(out.every((m) => m.frame.cameraId === 'lobby'));
      assert.ok(out.some((m) => m.detections.length >= 3), 'vtest.avi shows several pedestrians');
      const seqs = out.map((m) => m.frame.seq);
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'frames stay in order');
      await waitFor(() => statuses.some((s) => s.status.source.id === 'detect' && / fps · model \d+ % busy, room for \d+ more/.test(s.status.text)), 5000, 'a status with the load');
    });

    it('detects two cameras at its detection rate, says so in msg.detectFps, and shows the shared load', async function () {
      requireModel(this);
      requireVtest(this);
      const camera = (id: string) => ({ id: `source-${id}`, type: 'camera-source', z: 'tab', cameraId: id, source: 'sample:vtest.avi', loop: true, realtime: true, width: 0, height: 0, fps: 0, autostart: true, wires: [['detect']] });
      await helper.load([cameraSource, yoloModel, yoloDetect, catchNode, statusNode], [...flow({ detectFps: 2 }), camera('door'), camera('till')]);
      const out = collect('out');
      const statuses = collect('statuses');
      await waitFor(() => ['door', 'till'].every((id) => out.filter((m) => m.frame.cameraId === id).length >= 3), 30000, 'three frames of each camera');
      assert.ok(out.every((m) => m.detectFps === 2), `detectFps ${out.map((m) => m.detectFps)}`);
      for (const id of ['door', 'till']) {
        const times = out.filter((m) => m.frame.cameraId === id).map((m) => m.frame.timestamp);
        const gaps = times.slice(1).map((t, i) => t - times[i]);
        // The schedule takes the frame nearest its 0.5 s cadence, at most half an interval early (a loaded box delivers
        // frames unevenly), and the cadence itself never runs ahead.
        assert.ok(gaps.every((gap) => gap >= 250), `${id}: detected frames at least 0.25 s apart (${gaps})`);
        assert.ok(times.at(-1)! - times[0] >= (gaps.length - 1) * 500, `${id}: no more than 2 detections per second over the run (${gaps})`);
      }
      await waitFor(() => statuses.some((s) => s.status.source.id === 'detect' && / fps × 2 cameras · model \d+ % busy/.test(s.status.text)), 5000, 'a status for two cameras');
      assert.deepEqual(collect('errors'), []);
    });

    it("detects a camera faster while zone-analytics sees someone near a line (Faster near lines), and counts those frames", async function () {
      requireModel(this);
      requireVtest(this);
      // vtest.avi's pedestrians cross the middle of the picture all the time; the layout has a line there.
      const layout = JSON.stringify({ lines: [{ id: 'middle', from: [400, 360], to: [400, 150] }] });
      await helper.load([cameraSource, yoloModel, yoloDetect, sortTrack, zoneAnalytics, catchNode, statusNode], [
        ...flow({ detectFps: 1, nearFps: 5, wires: [['out', 'track']] }),
        { id: 'cam', type: 'camera-source', z: 'tab', cameraId: 'plaza', source: 'sample:vtest.avi', loop: true, realtime: true, width: 0, height: 0, fps: 0, autostart: true, wires: [['detect']] },
        { id: 'track', type: 'sort-track', z: 'tab', algorithm: 'hybrid', wires: [['zones'], []] },
        { id: 'zones', type: 'zone-analytics', z: 'tab', layout, anchor: 'bottom-center', persist: false, wires: [[], []] },
      ]);
      const out = collect('out');
      await waitFor(() => out.length >= 12, 30000, 'twelve detected frames');
      const times = out.map((m) => m.frame.timestamp);
      const gaps = times.slice(1).map((t, i) => t - times[i]);
      assert.ok(gaps.some((gap) => gap < 500), `some detections closer than the 1 s rate: ${gaps}`);
      const { detectionRegistry } = await import('../src/detection/usage-registry');
      const plaza = detectionRegistry.cameras().find((c) => c.cameraId === 'plaza')!;
      assert.ok(plaza.boosted > 0 && plaza.boosted < plaza.detect, `${plaza.boosted} of ${plaza.detect} detected at the faster rate`);
      assert.deepEqual(collect('errors'), []);
    });

    it('sends messages without a frame or image to Catch nodes', async function () {
      requireModel(this);
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow());
      const errors = collect('errors');
      helper.getNode('detect').receive({ payload: 42 });
      helper.getNode('detect').receive({ payload: Buffer.from('not a picture') });
      await waitFor(() => errors.length === 2, 5000, 'two errors');
      assert.match(errors[0].error.message, /needs msg.frame/);
      assert.match(errors[1].error.message, /not a decodable image/);
    });

    it('reports a missing model on each message, with a red status', async () => {
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow({}, { modelPath: '/nonexistent/model.onnx' }));
      const errors = collect('errors');
      const statuses = collect('statuses');
      helper.getNode('detect').receive({ payload: Buffer.from([0xff, 0xd8]) });
      await waitFor(() => errors.length === 1, 5000, 'an error');
      assert.match(errors[0].error.message, /cannot read model file \/nonexistent\/model.onnx/);
      await waitFor(() => statuses.some((s) => s.status.fill === 'red'), 3000, 'a red status');
    });

    it('reports a corrupt model file on each message, with a red status, and keeps running', async () => {
      const corrupt = path.join(mkdtempSync(path.join(tmpdir(), 'model-')), 'broken.onnx');
      writeFileSync(corrupt, 'this is not an ONNX model');
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow({}, { modelPath: corrupt }));
      const errors = collect('errors');
      const statuses = collect('statuses');
      helper.getNode('detect').receive({ payload: Buffer.from([0xff, 0xd8]) });
      helper.getNode('detect').receive({ payload: Buffer.from([0xff, 0xd8]) });
      await waitFor(() => errors.length === 2, 10000, 'two errors');
      assert.match(errors[0].error.message, /broken\.onnx/);
      await waitFor(() => statuses.some((s) => s.status.fill === 'red'), 3000, 'a red status');
    });

    it('reports an unknown class name', async function () {
      requireModel(this);
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow({ classes: 'person, unicorn' }));
      const errors = collect('errors');
      helper.getNode('detect').receive({ payload: readFileSync(requireFile(this, path.join(DARKNET_DATA, 'dog.jpg'), 'photos')) });
      await waitFor(() => errors.length === 1, 20000, 'an error');
      assert.match(errors[0].error.message, /unknown class "unicorn"/);
    });

    it("detects a camera's frame on its own pixels when the camera moves on while it waits for the model", async function () {
      requireModel(this);
      const photo = requireFile(this, path.join(DARKNET_DATA, 'person.jpg'), "darknet's sample photos");
      const image = await decodeImage(readFileSync(photo), 50e6);
      const put = (seq: number, fill: (pixels: Uint8Array) => void) => {
        const pixels = frameStore.allocate(image.pixels.length);
        fill(pixels);
        const ref = { cameraId: 'till', seq, timestamp: seq * 100, width: image.width, height: image.height, dropped: 0 };
        frameStore.put({ ref, pixels, width: image.width, height: image.height });
        return ref;
      };
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow());
      const out = collect('out');
      // Sent while the model loads, then evicted by the camera's next frames, whose buffers the store reuses.
      helper.getNode('detect').receive({ frame: put(1, (pixels) => pixels.set(image.pixels)) });
      for (let seq = 2; seq <= frameStore.capacityPerCamera + 3; seq++) put(seq, (pixels) => pixels.fill(0));
      assert.equal(frameStore.get({ cameraId: 'till', seq: 1 }), undefined, 'evicted');
      await waitFor(() => out.length === 1, 20000, 'detections');
      assert.equal(out[0].frame.seq, 1);
      assert.deepEqual(out[0].detections.map((d: Msg) => d.label), ['person']);
      frameStore.delete('till');
    });

    it('skips a frame that is no longer in the frame store', async function () {
      requireModel(this);
      await helper.load([yoloModel, yoloDetect, catchNode, statusNode], flow());
      const out = collect('out');
      const errors = collect('errors');
      helper.getNode('detect').receive({ frame: { cameraId: 'gone', seq: 1, timestamp: 0, width: 4, height: 4, dropped: 0 } });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual([out.length, errors.length], [0, 0]);
    });
  });

  describe('sort-track', () => {
    const flow = (extra: Msg = {}) => [
      { id: 'tab', type: 'tab' },
      { id: 'track', type: 'sort-track', z: 'tab', maxAge: 2, minHits: 3, iouThreshold: 0.3, trailLength: 30, wires: [['out'], ['events']], ...extra },
      { id: 'out', type: 'helper', z: 'tab' },
      { id: 'events', type: 'helper', z: 'tab' },
      ...catcher(),
    ];
    const frame = (cameraId: string, seq: number, xs: number[]) => ({
      frame: { cameraId, seq, timestamp: 1000 * seq, width: 640, height: 480, dropped: 0 },
      detections: xs.map((x) => ({ bbox: [x, 100, x + 40, 200], score: 0.9, classId: 0, label: 'person' })),
    });

    it('adds tracks to each message and announces tracks that start and end', async () => {
      await helper.load([sortTrack, catchNode, statusNode], flow());
      const out = collect('out');
      const events = collect('events');
      const node = helper.getNode('track');
      for (let seq = 1; seq <= 5; seq++) node.receive(frame('door', seq, [100 + 5 * seq]));
      for (let seq = 6; seq <= 9; seq++) node.receive(frame('door', seq, []));
      await waitFor(() => out.length === 9, 2000, 'nine messages');
      assert.deepEqual(out.map((m) => m.tracks.length), [1, 1, 1, 1, 1, 0, 0, 0, 0]);
      const track = out[4].tracks[0];
      assert.deepEqual([track.id, track.hits, track.detection.index, track.detection.label], [1, 4, 0, 'person']);
      assert.equal(out[4].frame.seq, 5, 'the rest of the message passes through');
      assert.deepEqual(events.map((e) => [e.topic, e.payload.trackId, e.payload.at]), [
        ['door/tracks/started', 1, 1000],
        ['door/tracks/ended', 1, 5000],
      ]);
    });

    it('tracks each camera separately and resets on command', async () => {
      await helper.load([sortTrack, catchNode, statusNode], flow({ minHits: 1 }));
      const out = collect('out');
      const events = collect('events');
      const node = helper.getNode('track');
      node.receive(frame('door', 1, [100, 300]));
      node.receive(frame('till', 1, [100]));
      await waitFor(() => out.length === 2, 2000, 'two messages');
      assert.deepEqual(out.map((m) => m.tracks.map((t: Msg) => t.id).sort()), [[1, 2], [1]]);
      node.receive({ payload: 'reset', cameraId: 'door' });
      await waitFor(() => events.filter((e) => e.payload.event === 'ended').length === 2, 2000, 'two ended events');
      assert.ok(events.filter((e) => e.payload.event === 'ended').every((e) => e.payload.reason === 'reset' && e.payload.cameraId === 'door'));
      node.receive(frame('door', 2, [100]));
      node.receive(frame('till', 2, [102]));
      await waitFor(() => out.length === 4, 2000, 'two more messages');
      assert.deepEqual(out[2].tracks.map((t: Msg) => t.id), [3], 'ids keep counting after a reset');
      assert.deepEqual(out[3].tracks.map((t: Msg) => t.id), [1], 'the other camera kept its track');
    });

    it('sends messages without detections to Catch nodes', async () => {
      await helper.load([sortTrack, catchNode, statusNode], flow());
      const errors = collect('errors');
      helper.getNode('track').receive({ payload: 'hello' });
      await waitFor(() => errors.length === 1, 2000, 'an error');
      assert.match(errors[0].error.message, /needs msg.detections/);
    });

    it('reports settings it cannot use', async () => {
      await helper.load([sortTrack, catchNode, statusNode], flow({ iouThreshold: 0 }));
      const errors = collect('errors');
      helper.getNode('track').receive(frame('door', 1, [100]));
      await waitFor(() => errors.length === 1, 2000, 'an error');
      assert.match(errors[0].error.message, /sort-track cannot run: iouThreshold must be above 0/);
    });

    it('runs ByteTrack when chosen: a person scoring low for a few frames keeps their track, low-score boxes alone show nowhere', async () => {
      await helper.load([sortTrack, catchNode, statusNode], flow({ algorithm: 'bytetrack', trackThresh: 0.6, matchThresh: 0.9, trackBuffer: 30, frameRate: 10, maxAge: '' }));
      const out = collect('out');
      const node = helper.getNode('track');
      const scores = [0.9, 0.9, 0.9, 0.3, 0.2, 0.9];
      scores.forEach((score, i) => {
        const msg = frame('door', i + 1, [100 + 5 * i, 400]);
        msg.detections[0].score = score;
        // A second box that never scores above 0.4: ByteTrack never makes it a track.
        msg.detections[1].score = 0.4;
        node.receive(msg);
      });
      await waitFor(() => out.length === scores.length, 2000, 'six messages');
      assert.deepEqual(out.map((m) => m.tracks.map((t: Msg) => t.id)), [[1], [1], [1], [1], [1], [1]]);
      assert.deepEqual(out[4].tracks[0].detection, { index: 0, score: 0.2, classId: 0, label: 'person' });
    });

    it('refuses an algorithm it does not know, naming the ones it does', async () => {
      await helper.load([sortTrack, catchNode, statusNode], flow({ algorithm: 'deepsort' }));
      const errors = collect('errors');
      helper.getNode('track').receive(frame('door', 1, [100]));
      await waitFor(() => errors.length === 1, 2000, 'an error');
      assert.match(errors[0].error.message, /unknown tracking algorithm "deepsort": choose hybrid, bytetrack, ocsort or sort/);
    });

    it('runs the hybrid tracker (the default for new nodes) on the colours yolo-detect sends, and says where each track was born', async () => {
      await helper.load([sortTrack, catchNode, statusNode], flow({ algorithm: 'hybrid', trackThresh: 0.6, matchThresh: 0.9, lostSeconds: 1, appearanceVeto: 0.5 }));
      const out = collect('out');
      const node = helper.getNode('track');
      const colour = (bin: number) => Array.from({ length: APPEARANCE_BINS }, (_, i) => (i === bin ? 1 : 0));
      for (let seq = 1; seq <= 4; seq++) {
        const msg = frame('door', seq, [100 + 2 * seq]);
        node.receive({ ...msg, detections: [{ ...msg.detections[0], appearance: colour(0) }] });
      }
      // A blue person where red was heading, red just beside: red keeps its id on the red detection.
      const crossing = frame('door', 5, [110, 118]);
      node.receive({ ...crossing, detections: [{ ...crossing.detections[0], appearance: colour(10) }, { ...crossing.detections[1], appearance: colour(0) }] });
      await waitFor(() => out.length === 5, 2000, 'five messages');
      const red = out[4].tracks.find((t: Msg) => t.id === 1);
      assert.equal(red.detection.index, 1);
      assert.deepEqual([red.firstSeenAt, red.firstBox], [1000, [102, 100, 142, 200]]);
    });
  });

  describe('zone-analytics', () => {
    const square = [[100, 100], [200, 100], [200, 200], [100, 200]];
    const layout = JSON.stringify({ zones: [{ id: 'shelf', polygon: square }], lines: [{ id: 'door', from: [0, 300], to: [400, 300] }] });
    const flow = (database: string, extra: Msg = {}) => [
      { id: 'tab', type: 'tab' },
      { id: 'zones', type: 'zone-analytics', z: 'tab', layout, anchor: 'bottom-center', trackTimeoutSeconds: 0.5, timeZone: 'Europe/Paris', persist: true, database, wires: [['out'], ['events']], ...extra },
      { id: 'out', type: 'helper', z: 'tab' },
      { id: 'events', type: 'helper', z: 'tab' },
      ...catcher(),
    ];
    const t0 = Date.parse('2026-11-28T10:00:00Z');
    /** Frame `seq` of camera "aisle", with people whose feet stand at the given points. */
    const frame = (seq: number, feet: [number, number][]) => ({
      frame: { cameraId: 'aisle', seq, timestamp: t0 + seq * 1000, width: 400, height: 400, dropped: 0 },
      tracks: feet.map(([x, y], i) => ({ id: i + 1, bbox: [x - 10, y - 60, x + 10, y], detection: { label: 'person' } })),
    });
    /** Person 1 walks into the shelf zone and out again, then down across the door line. */
    const walk: [number, number][] = [[50, 150], [150, 150], [150, 160], [250, 150], [250, 280], [250, 320]];

    it('counts zones and lines, sends enter/exit/cross events and keeps footfall by local hour', async () => {
      const database = path.join(mkdtempSync(path.join(tmpdir(), 'zones-')), 'metrics.db');
      await helper.load([zoneAnalytics, catchNode, statusNode], flow(database));
      const out = collect('out');
      const events = collect('events');
      walk.forEach((p, i) => helper.getNode('zones').receive(frame(i + 1, [p])));
      await waitFor(() => out.length === walk.length, 2000, 'all frames');
      const last = out.at(-1)!;
      assert.deepEqual(
        last.zones.map((z: Msg) => [z.id, z.currentCount, z.totalEntries, z.totalExits, z.avgDwellSeconds, z.peakCount]),
        [['shelf', 0, 1, 1, 2, 1]],
      );
      assert.deepEqual(last.lines.map((l: Msg) => [l.id, l.in, l.out]), [['door', 1, 0]]);
      assert.equal(last.occupancy, 1);
      assert.deepEqual(last.today, {
        day: '2026-11-28',
        camera: { footfall: 1, peakOccupancy: 1, peakAt: t0 + 1000 },
        all: { footfall: 1, peakOccupancy: 1, peakAt: t0 + 1000 },
      });
      assert.deepEqual(events.map((e) => e.topic), ['aisle/zones/shelf/enter', 'aisle/zones/shelf/exit', 'aisle/lines/door/in']);
      assert.equal(events[1].payload.dwellSeconds, 2);
    });

    it('keeps every count across a restart of the node', async () => {
      const database = path.join(mkdtempSync(path.join(tmpdir(), 'zones-')), 'metrics.db');
      await helper.load([zoneAnalytics, catchNode, statusNode], flow(database));
      let out = collect('out');
      walk.forEach((p, i) => helper.getNode('zones').receive(frame(i + 1, [p])));
      await waitFor(() => out.length === walk.length, 2000, 'all frames');
      const before = out.at(-1)!;
      await helper.unload();

      await helper.load([zoneAnalytics, catchNode, statusNode], flow(database));
      out = collect('out');
      helper.getNode('zones').receive(frame(100, []));
      await waitFor(() => out.length === 1, 2000, 'a frame after the restart');
      assert.deepEqual(out[0].zones, before.zones.map((z: Msg) => ({ ...z, currentCount: 0 })));
      assert.deepEqual(out[0].lines, before.lines);
      const { MetricsStore } = require('../src/metrics/store');
      await helper.unload();
      const store = new MetricsStore(database);
      const hours = store.read().hours.filter((h: Msg) => h.series === 'aisle');
      store.close();
      assert.deepEqual(hours.map((h: Msg) => [h.bucket.key, h.bucket.footfall]), [['2026-11-28T11:00+01:00', 1]], 'one footfall (the door line) in the 11:00 hour, Paris time');
    });

    it('takes a new layout in msg.layout: ends the visits it must, refuses a bad one, and keeps it across restarts until the node\'s own layout changes', async () => {
      const database = path.join(mkdtempSync(path.join(tmpdir(), 'zones-')), 'metrics.db');
      await helper.load([zoneAnalytics, catchNode, statusNode], flow(database));
      let out = collect('out');
      const events = collect('events');
      let errors = collect('errors');
      const statuses = collect('statuses');
      const zones = () => helper.getNode('zones');
      zones().receive(frame(1, [[150, 150]]));
      await waitFor(() => events.length === 1, 2000, 'the entry');
      const moved = { zones: [{ id: 'shelf', polygon: [[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]] }, { id: 'till', name: 'Till', polygon: [[0, 0], [0.25, 0], [0.25, 0.25], [0, 0.25]] }] };
      zones().receive({ layout: JSON.stringify(moved) });
      await waitFor(() => events.length === 2, 2000, 'the visit in the moved shelf ended');
      assert.equal(events[1].topic, 'aisle/zones/shelf/exit');
      assert.equal(events[1].payload.reason, 'layout');
      zones().receive({ layout: { zones: [{ id: 'x', polygon: [[0, 0]] }] } });
      await waitFor(() => errors.length === 1, 2000, 'the bad layout refused');
      assert.match(errors[0].error.message, /the new layout was refused, counting goes on with the old one: zone "x": "polygon" must be at least 3 points/);
      zones().receive(frame(2, [[150, 150]]));
      await waitFor(() => out.length === 2, 2000, 'a frame on the new layout');
      assert.deepEqual(out[1].zones.map((z: Msg) => [z.id, z.currentCount, z.totalEntries, z.totalExits]), [['shelf', 0, 1, 1], ['till', 0, 0, 0]], 'the shelf keeps its day; the person now stands in neither');
      assert.deepEqual(out[1].lines, [], 'the door is gone');
      await waitFor(() => statuses.some((m) => /layout from message/.test(m.status.text)), 3000, 'the status says where the layout came from');
      await helper.unload();

      await helper.load([zoneAnalytics, catchNode, statusNode], flow(database));
      out = collect('out');
      zones().receive(frame(3, [[100, 100]]));
      await waitFor(() => out.length === 1, 2000, 'a frame after the restart');
      assert.deepEqual(out[0].zones.map((z: Msg) => z.id), ['shelf', 'till'], 'the layout sent outlives a restart');
      assert.deepEqual((zones() as unknown as { currentLayout(): unknown }).currentLayout(), moved);
      await helper.unload();

      const edited = JSON.stringify({ zones: [{ id: 'shelf', polygon: square }] });
      await helper.load([zoneAnalytics, catchNode, statusNode], flow(database, { layout: edited }));
      out = collect('out');
      errors = collect('errors');
      zones().receive(frame(4, [[100, 100]]));
      await waitFor(() => out.length === 1, 2000, 'a frame after the node\'s layout changed');
      assert.deepEqual(out[0].zones.map((z: Msg) => z.id), ['shelf'], 'a layout edited in the node wins over the one sent before');
      assert.equal(errors.length, 0);
    });

    it('sends a summary per minute, waits for msg.delivered, and sends again what was not confirmed after a restart', async () => {
      const database = path.join(mkdtempSync(path.join(tmpdir(), 'zones-')), 'metrics.db');
      const summaryFlow = () => {
        const settings = { relinkSeconds: 0, summaries: 'minute', summaryDelivery: 'acknowledged', summaryRetrySeconds: 60, wires: [['out'], ['events'], ['summaries']] };
        return [...flow(database, settings), { id: 'summaries', type: 'helper', z: 'tab' }];
      };
      await helper.load([zoneAnalytics, catchNode, statusNode], summaryFlow());
      let summaries = collect('summaries');
      walk.forEach((p, i) => helper.getNode('zones').receive(frame(i + 1, [p])));
      helper.getNode('zones').receive(frame(70, []));
      await waitFor(() => summaries.length === 1, 3000, 'the first minute summarised');
      assert.equal(summaries[0].topic, 'aisle/summaries/minute');
      assert.equal(summaries[0].summaryId, 'aisle/minute/2026-11-28T11:00:00+01:00');
      assert.deepEqual(summaries[0].payload.counters.map((c: Msg) => [c.kind, c.counter, c.in, c.out]), [['line', 'door', 1, 0], ['zone', 'shelf', 1, 1]]);
      await helper.unload();

      await helper.load([zoneAnalytics, catchNode, statusNode], summaryFlow());
      summaries = collect('summaries');
      const errors = collect('errors');
      helper.getNode('zones').receive(frame(71, []));
      await waitFor(() => summaries.length === 1, 3000, 'the unconfirmed summary sent again');
      assert.equal(summaries[0].summaryId, 'aisle/minute/2026-11-28T11:00:00+01:00');
      helper.getNode('zones').receive({ delivered: true, summaryId: summaries[0].summaryId });
      await waitFor(() => summaries.length === 2, 3000, 'the next minute once the first is confirmed');
      assert.equal(summaries[1].payload.id, 'aisle/minute/2026-11-28T11:01:00+01:00');
      helper.getNode('zones').receive({ delivered: 42 });
      await waitFor(() => errors.length === 1, 2000, 'a bad acknowledgement refused');
      assert.match(errors[0].error.message, /msg.delivered must be a summary id/);
    });

    it('takes its time zone and opening hours from a store-calendar node, and refuses to run on a broken one', async () => {
      const storeCalendar = require('../nodes/store-calendar');
      const hours = (sat: string) => ({ id: 'hours', type: 'store-calendar', name: 'shop', timeZone: 'America/New_York', mon: '', tue: '', wed: '', thu: '', fri: '', sat, sun: '', closedDays: '' });
      await helper.load([zoneAnalytics, storeCalendar, catchNode, statusNode], [...flow('', { persist: false, calendar: 'hours' }), hours('9:00-25:00')]);
      const errors = collect('errors');
      helper.getNode('zones').receive(frame(1, []));
      await waitFor(() => errors.length === 1, 2000, 'an error');
      assert.match(errors[0].error.message, /zone-analytics cannot run: store calendar "shop": opening hours of sat: "25:00" is not a time from 00:00 to 24:00/);
      await helper.unload();

      // The walk is on Saturday 2026-11-28 from 10:00 UTC: 05:00 in New York, before the store opens at 09:00.
      await helper.load([zoneAnalytics, storeCalendar, catchNode, statusNode], [...flow('', { persist: false, calendar: 'hours' }), hours('09:00-20:00')]);
      const out = collect('out');
      walk.forEach((p, i) => helper.getNode('zones').receive(frame(i + 1, [p])));
      await waitFor(() => out.length === walk.length, 2000, 'all frames');
      const last = out.at(-1)!;
      assert.deepEqual(last.lines.map((l: Msg) => [l.id, l.in]), [['door', 1]], 'the crossing is counted');
      assert.deepEqual([last.today.day, last.today.camera.footfall], ['2026-11-28', 0], 'but not as footfall: the store was closed');
    });

    it('reports a broken layout and messages without tracks', async () => {
      await helper.load([zoneAnalytics, catchNode, statusNode], flow('', { layout: '{"zones": [{"id": "a", "polygon": [[0, 0]]}]}', persist: false }));
      const errors = collect('errors');
      helper.getNode('zones').receive(frame(1, []));
      await waitFor(() => errors.length === 1, 2000, 'an error');
      assert.match(errors[0].error.message, /zone-analytics cannot run: zone "a": "polygon" must be at least 3 points/);
      await helper.unload();
      await helper.load([zoneAnalytics, catchNode, statusNode], flow('', { relinkDistance: -1, persist: false }));
      const badSetting = collect('errors');
      helper.getNode('zones').receive(frame(1, []));
      await waitFor(() => badSetting.length === 1, 2000, 'an error');
      assert.match(badSetting[0].error.message, /zone-analytics cannot run: the distance to continue a lost track must be above 0 box heights, got -1/);
      await helper.unload();
      await helper.load([zoneAnalytics, catchNode, statusNode], flow('', { persist: false }));
      const more = collect('errors');
      helper.getNode('zones').receive({ payload: 1 });
      await waitFor(() => more.length === 1, 2000, 'an error');
      assert.match(more[0].error.message, /needs msg.tracks/);
    });
  });

  describe('hostile input (issue 12): refused with a clear error, nothing kept, the next message works', () => {
    const tab = { id: 'tab', type: 'tab' };
    const helperNode = (id: string) => ({ id, type: 'helper', z: 'tab' });
    /**
     * A stall is what a user notices: Node-RED unresponsive for many seconds. The bound is well above the time a
     * refusal takes (1–2 s on a 2-core machine, most of it building the message and Node-RED copying it for the
     * Catch node), so that a busy machine does not fail it; tracking 200,000 boxes would take far longer.
     */
    const STALL_MS = 10_000;
    const timed = async (what: string, action: () => Promise<void>) => {
      const started = Date.now();
      await action();
      assert.ok(Date.now() - started < STALL_MS, `${what} took ${Date.now() - started} ms`);
    };

    it('heatmap: a 30000x30000 or fractional frame size is refused at once, naming the property', async () => {
      await helper.load([heatmapNode, catchNode, statusNode], [
        tab,
        { id: 'heat', type: 'heatmap', z: 'tab', cellSize: 8, decay: 0.98, sigma: 16, every: 0, format: 'png', overlay: false, wires: [['out']] },
        helperNode('out'),
        ...catcher(),
      ]);
      const errors = collect('errors');
      const heat = helper.getNode('heat');
      const track = [{ id: 1, bbox: [0, 0, 10, 10] }];
      await timed('the refusal', async () => {
        heat.receive({ frame: { cameraId: 'c', seq: 1, width: 30000, height: 30000 }, tracks: track });
        heat.receive({ frame: { cameraId: 'c', seq: 2, timestamp: 1, width: 320.5, height: 240, dropped: 0 }, tracks: track });
        heat.receive({ payload: 'render', cameraId: { id: 'c' } });
        await waitFor(() => errors.length === 3, 2000, 'three errors');
      });
      assert.match(errors[0].error.message, /msg.frame.timestamp must be a time in ms since 1970, got undefined/);
      assert.match(errors[1].error.message, /msg.frame.width must be a whole number of pixels from 1 to 16384, got 320.5/);
      assert.match(errors[2].error.message, /msg.cameraId must be a camera id \(1 to 128 printable characters\), got an object/);
      heat.receive({ frame: { cameraId: 'c', seq: 3, timestamp: 1, width: 30000, height: 30000, dropped: 0 }, tracks: track });
      await waitFor(() => errors.length === 4, 2000, 'a fourth error');
      assert.match(errors[3].error.message, /msg.frame.width must be a whole number of pixels from 1 to 16384, got 30000/);
    });

    it('heatmap: settings that would exhaust memory are refused at deploy with a red status', async () => {
      await helper.load([heatmapNode, catchNode, statusNode], [
        tab,
        { id: 'heat', type: 'heatmap', z: 'tab', cellSize: 8, decay: 0.98, sigma: 1e9, every: 5, format: 'png', overlay: false, wires: [['out']] },
        helperNode('out'),
        ...catcher(),
      ]);
      const errors = collect('errors');
      helper.getNode('heat').receive({ frame: { cameraId: 'c', seq: 1, timestamp: 1, width: 320, height: 240, dropped: 0 }, tracks: [] });
      await waitFor(() => errors.length === 1, 2000, 'an error');
      assert.match(errors[0].error.message, /heatmap cannot run: sigma must be above 0 and at most 200 cells \(1600 pixels\), got 1000000000/);
    });

    it('zone-analytics: a track with a prototype-less label is dropped and counted; the camera keeps counting', async () => {
      const layout = JSON.stringify({ zones: [{ id: 'shelf', polygon: [[0, 0], [200, 0], [200, 200], [0, 200]] }] });
      await helper.load([zoneAnalytics, catchNode, statusNode], [
        tab,
        { id: 'zones', type: 'zone-analytics', z: 'tab', layout, anchor: 'bottom-center', trackTimeout: 5, persist: false, wires: [['out'], []] },
        helperNode('out'),
        ...catcher(),
      ]);
      const out = collect('out');
      const errors = collect('errors');
      const zones = helper.getNode('zones');
      const frame = (seq: number) => ({ cameraId: 'cam', seq, timestamp: seq * 100, width: 400, height: 400, dropped: 0 });
      const label = Object.create(null);
      zones.receive({ frame: frame(1), tracks: [{ id: 1, bbox: [50, 50, 70, 100], detection: { label } }, { id: 2, bbox: [NaN, 0, 1, 1] }] });
      for (let seq = 2; seq <= 4; seq++) zones.receive({ frame: frame(seq), tracks: [{ id: 1, bbox: [50, 50, 70, 100], detection: { label: 'person' } }] });
      await waitFor(() => out.length === 4, 2000, 'four messages');
      assert.equal(errors.length, 0);
      assert.deepEqual(out.map((m) => m.zones[0].currentCount), [1, 1, 1, 1]);
      assert.deepEqual(out.map((m) => m.occupancy), [1, 1, 1, 1], 'the bad track was dropped, not counted');
    });

    it('zone-analytics and sort-track: 100,000 tracks or 200,000 detections in one message are refused without a stall', async () => {
      const layout = JSON.stringify({ zones: [{ id: 'shelf', polygon: [[0, 0], [200, 0], [200, 200], [0, 200]] }] });
      await helper.load([zoneAnalytics, sortTrack, catchNode, statusNode], [
        tab,
        { id: 'zones', type: 'zone-analytics', z: 'tab', layout, anchor: 'bottom-center', trackTimeout: 5, persist: false, wires: [[], []] },
        { id: 'track', type: 'sort-track', z: 'tab', algorithm: 'bytetrack', wires: [[], []] },
        ...catcher(),
      ]);
      const errors = collect('errors');
      const frame = { cameraId: 'cam', seq: 1, timestamp: 1, width: 400, height: 400, dropped: 0 };
      await timed('the refusals', async () => {
        helper.getNode('zones').receive({ frame, tracks: Array.from({ length: 100_000 }, (_, id) => ({ id, bbox: [0, 0, 10, 10] })) });
        helper.getNode('track').receive({ frame, detections: Array.from({ length: 200_000 }, (_, i) => ({ bbox: [i, 0, i + 10, 10], score: 0.9 })) });
        await waitFor(() => errors.length === 2, STALL_MS, 'two errors');
      });
      assert.match(errors[0].error.message, /msg.tracks has 100000 entries; at most 10000 are accepted/);
      assert.match(errors[1].error.message, /msg.detections has 200000 entries; at most 10000 are accepted/);
    });

    it('pos-conversion: a refused batch stores nothing, junk is refused naming the field, and a 100,000-deep body still reaches Catch', async () => {
      const database = path.join(mkdtempSync(path.join(tmpdir(), 'hostile-')), 'metrics.db');
      await helper.load([posConversion, catchNode, statusNode], [
        tab,
        { id: 'sales', type: 'pos-conversion', z: 'tab', footfallCamera: '', timeZone: 'UTC', database, retentionDays: 400, wires: [['out']] },
        helperNode('out'),
        ...catcher(),
      ]);
      const out = collect('out');
      const errors = collect('errors');
      const sales = helper.getNode('sales');
      sales.receive({ payload: [{ id: 'REPRO-2', amount: 3 }, { id: 'REPRO-3', timestamp: -1e20, amount: 4 }] });
      await waitFor(() => errors.length === 1, 2000, 'the batch refused');
      assert.match(errors[0].error.message, /transaction 2: timestamp -100000000000000000000 is neither/);
      sales.receive({ payload: [{ id: 'REPRO-2', amount: 3 }] });
      await waitFor(() => out.length === 1, 2000, 'the retry');
      assert.deepEqual([out[0].payload.accepted, out[0].payload.duplicates], [1, 0], 'the retry is a new sale, not a duplicate');
      for (const payload of ['', {}, { transactions: null }, { transactions: { id: 'X' } }, { id: 'Y', amount: 1e308 }, { id: 'Z', amount: '0x10' }, { id: 'S', timestamp: 1_700_000_000 }]) {
        sales.receive({ payload });
      }
      await waitFor(() => errors.length === 8, 2000, 'seven more errors');
      assert.equal(out.length, 1, 'none of the junk became a sale');
      let deep: unknown = [];
      for (let i = 0; i < 100_000; i++) deep = [deep];
      sales.receive({ payload: deep });
      await waitFor(() => errors.length === 9, 2000, 'the deep body reported');
      assert.match(errors[8].error.message, /msg.payload nested more than 100 levels deep: refused/);
      assert.equal(errors[8].payload, '[removed: nested too deep to copy]');
    });
  });

  describe('heatmap', () => {
    const flow = (extra: Msg = {}) => [
      { id: 'tab', type: 'tab' },
      { id: 'heat', type: 'heatmap', z: 'tab', cellSize: 8, decay: 0.98, sigma: 16, every: 3, format: 'png', quality: 80, overlay: false, opacity: 0.6, longTerm: false, anchor: 'bottom-center', wires: [['out']], ...extra },
      { id: 'out', type: 'helper', z: 'tab' },
      ...catcher(),
    ];
    const frame = (seq: number) => ({
      frame: { cameraId: 'hall', seq, timestamp: seq * 100, width: 320, height: 240, dropped: 0 },
      tracks: [{ id: 1, bbox: [100 + seq, 100, 130 + seq, 200] }],
    });

    it('sends an image the size of the frame every N frames and on request', async () => {
      await helper.load([heatmapNode, catchNode, statusNode], flow());
      const out = collect('out');
      for (let seq = 1; seq <= 6; seq++) helper.getNode('heat').receive(frame(seq));
      await waitFor(() => out.length === 2, 2000, 'two images');
      const image = await decodeImage(out[0].payload);
      assert.deepEqual([image.width, image.height], [320, 240]);
      assert.deepEqual(out[1].heatmap, { cameraId: 'hall', kind: 'live', width: 320, height: 240, format: 'png', frames: 6, showsPeople: false });
      helper.getNode('heat').receive({ payload: 'render', cameraId: 'hall' });
      await waitFor(() => out.length === 3, 2000, 'an image on request');
      assert.ok(Buffer.isBuffer(out[2].payload));
    });

    it('reports a render request for an unknown camera and messages without tracks', async () => {
      await helper.load([heatmapNode, catchNode, statusNode], flow());
      const errors = collect('errors');
      helper.getNode('heat').receive({ payload: 'render', cameraId: 'nowhere' });
      helper.getNode('heat').receive({ payload: 42 });
      await waitFor(() => errors.length === 2, 2000, 'two errors');
      const messages = errors.map((e) => e.error.message).sort();
      assert.match(messages[0], /heatmap needs msg.tracks/);
      assert.match(messages[1], /no heatmap yet for camera "nowhere"/);
    });
  });

  describe('pos-conversion', () => {
    const layout = JSON.stringify({ lines: [{ id: 'door', from: [100, 400], to: [100, 0] }] });
    const flow = (database: string, extra: Msg = {}) => [
      { id: 'tab', type: 'tab' },
      { id: 'zones', type: 'zone-analytics', z: 'tab', layout, anchor: 'bottom-center', trackTimeout: 5, timeZone: 'UTC', persist: true, database, wires: [[], []] },
      { id: 'sales', type: 'pos-conversion', z: 'tab', footfallCamera: '', timeZone: 'UTC', database, retentionDays: 400, wires: [['out']], ...extra },
      { id: 'out', type: 'helper', z: 'tab' },
      ...catcher(),
    ];
    /** `people` visitors cross the door line to the right, one after the other. */
    const visit = (people: number) => {
      const now = Date.now();
      let seq = 0;
      for (let id = 1; id <= people; id++) {
        for (const x of [60, 140]) {
          seq++;
          helper.getNode('zones').receive({ frame: { cameraId: 'door', seq, timestamp: now + seq, width: 400, height: 400, dropped: 0 }, tracks: [{ id, bbox: [x - 10, 100, x + 10, 200] }] });
        }
      }
    };

    it('records sales once each and reports conversion against the footfall of the same database', async () => {
      const database = path.join(mkdtempSync(path.join(tmpdir(), 'sales-')), 'metrics.db');
      await helper.load([zoneAnalytics, posConversion, catchNode, statusNode], flow(database));
      const out = collect('out');
      visit(4);
      const sales = helper.getNode('sales');
      sales.receive({ payload: [{ id: 'A', amount: 12 }, { id: 'B', amount: 8 }] });
      sales.receive({ payload: '{"id": "A", "amount": 12}' });
      await waitFor(() => out.length === 2, 2000, 'two answers');
      assert.deepEqual([out[0].payload.accepted, out[0].payload.duplicates, out[1].payload.accepted, out[1].payload.duplicates], [2, 0, 0, 1]);
      assert.deepEqual(out[1].payload.today, { footfall: 4, transactions: 2, conversionRate: 0.5, revenue: 20, averageBasket: 10, basketPerVisitor: 5 });
      sales.receive({ topic: 'report' });
      await waitFor(() => out.length === 3, 2000, 'the report');
      const report = out[2].payload;
      assert.deepEqual([report.timeZone, report.footfallCamera, report.footfallCounted, report.hours.length, report.days.length], ['UTC', '*', true, 1, 7]);
      assert.deepEqual(report.total, out[1].payload.today);
    });

    it('refuses a bad batch whole, with an error for Catch nodes, and settings that clash on one database', async () => {
      const database = path.join(mkdtempSync(path.join(tmpdir(), 'sales-')), 'metrics.db');
      await helper.load([zoneAnalytics, posConversion, catchNode, statusNode], [
        ...flow(database),
        { id: 'other', type: 'pos-conversion', z: 'tab', footfallCamera: 'door', timeZone: 'UTC', database, retentionDays: 400, wires: [[]] },
      ]);
      const out = collect('out');
      const errors = collect('errors');
      const sales = helper.getNode('sales');
      sales.receive({ payload: [{ id: 'A', amount: 12 }, { id: 'B', timestamp: 'soon' }] });
      helper.getNode('other').receive({ payload: { id: 'C' } });
      await waitFor(() => errors.length === 2, 2000, 'two errors');
      const messages = errors.map((e) => e.error.message).sort();
      assert.match(messages[0], /pos-conversion cannot run: .*already records sales with footfallCamera ""/);
      assert.match(messages[1], /transaction 2: timestamp "soon"/);
      sales.receive({ topic: 'report' });
      await waitFor(() => out.length === 1, 2000, 'the report');
      assert.equal(out[0].payload.total.transactions, 0, 'nothing of the refused batch was recorded');
    });
  });

  describe('the demo flow in examples/', () => {
    it('deploys and reports people, tracks, zone counts and a heatmap of vtest.avi', async function () {
      requireModel(this);
      requireVtest(this);
      const flow = JSON.parse(readFileSync(path.join(ROOT, 'examples', 'full-pipeline.json'), 'utf8')) as Msg[];
      const summary = flow.find((n) => n.id === 'demo.summary')!;
      summary.wires[0].push('probe');
      flow.find((n) => n.id === 'demo.zones')!.database = path.join(mkdtempSync(path.join(tmpdir(), 'demo-')), 'metrics.db');
      flow.find((n) => n.id === 'demo.heatmap')!.every = 10;
      flow.find((n) => n.id === 'demo.heatmap')!.wires[0].push('heat-probe');
      flow.push({ id: 'heat-probe', type: 'helper', z: 'demo.tab' });
      flow.push({ id: 'probe', type: 'helper', z: 'demo.tab' });
      const core = ['20-inject.js', '21-debug.js', '25-catch.js', '90-comment.js'].map(coreNode);
      const functionNode = require(require.resolve('@node-red/nodes/core/function/10-function.js'));
      await helper.load([cameraSource, yoloModel, yoloDetect, sortTrack, zoneAnalytics, heatmapNode, apiOut, functionNode, ...core], flow);
      const probe = collect('probe');
      const heat = collect('heat-probe');
      await waitFor(() => probe.some((m) => m.payload.tracks.length >= 2), 30000, 'people tracked');
      assert.equal(probe[0].payload.camera, 'vtest');
      assert.ok(probe.some((m) => m.payload.people > 0));
      await waitFor(() => probe.some((m) => m.payload.zones['path-left'].entries + m.payload.zones.road.entries > 0), 30000, 'people counted in zones');
      await waitFor(() => heat.length > 0, 30000, 'a heatmap');
      assert.deepEqual([heat[0].heatmap.width, heat[0].heatmap.height], [768, 576]);
    });
  });

  describe('redis-config, fleet-publish, fleet-aggregate', () => {
    afterEach(() => stopAllRedis());

    const fleetFlow = (redis: Msg) => [
      { id: 'tab', type: 'tab' },
      { id: 'redis', type: 'redis-config', host: '127.0.0.1', port: 6379, db: 0, tls: false, prefix: 'nodes:', instance: 'shop1', ...redis },
      { id: 'publish', type: 'fleet-publish', z: 'tab', redis: 'redis', prefixCameraIds: true, offlineAfter: 15, interval: 1, shareFrames: false, frameRate: 1, privacy: true, streamLength: 1000, database: '' },
      { id: 'aggregate', type: 'fleet-aggregate', z: 'tab', redis: 'redis', timeZone: 'UTC', minuteRetentionDays: 7, hourRetentionDays: 400, wires: [['out'], ['out']] },
      { id: 'out', type: 'helper', z: 'tab' },
      ...catcher(),
    ];
    const statusTexts = (statuses: Msg[], node: string) => statuses.filter((m) => m.status.source.id === node).map((m) => String(m.status.text));

    it('a refused login: every user shows why, Catch nodes get it once per reason, and it keeps retrying', async function () {
      const server = await startRedis(this, { password: 'right' });
      await helper.load([redisConfig, fleetPublish, fleetAggregate, catchNode, statusNode], fleetFlow({ port: server.port }), { redis: { password: 'wrong' } });
      const errors = collect('errors');
      const statuses = collect('statuses');
      await waitFor(() => ['publish', 'aggregate'].every((id) => statusTexts(statuses, id).some((t) => /login refused/.test(t))), 10000, 'both users to show the refused login');
      await waitFor(() => errors.length > 0, 10000, 'the error at a Catch node');
      assert.match(errors[0].error.message, /Redis redis:\/\/127\.0\.0\.1:\d+\/0: login refused: .*WRONGPASS.*; retrying/);
      const reported = errors.length;
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.equal(errors.length, reported, 'not again at every retry');
      assert.ok(reported <= 2, `reported ${reported} times (once for each user's flow at most): ${errors.map((e) => e.error.message).join(' | ')}`);
    });

    it('with the right login: connected, publishing what flows in, and the aggregate sends it on for api-out', async function () {
      const server = await startRedis(this, { password: 'right' });
      await helper.load([redisConfig, fleetPublish, fleetAggregate, catchNode, statusNode], fleetFlow({ port: server.port }), { redis: { password: 'right' } });
      const out = collect('out');
      const statuses = collect('statuses');
      const errors = collect('errors');
      helper.getNode('publish').receive({ cameraId: 'door', zones: [{ id: 'z', name: 'z', currentCount: 1, totalEntries: 4, totalExits: 3 }], lines: [], occupancy: 1, tracks: [] });
      await waitFor(() => out.some((m) => m.cameraId === 'shop1-door'), 10000, 'the camera from the aggregate');
      const msg = out.find((m) => m.cameraId === 'shop1-door')!;
      assert.equal(msg.zones[0].totalEntries, 4);
      assert.equal(msg.fleet.instance, 'shop1');
      assert.equal(msg.fleet.aggregator, 'aggregate');
      assert.equal(msg.fleet.online, true);
      await waitFor(() => statusTexts(statuses, 'publish').some((t) => /1 cameras as shop1/.test(t)), 10000, 'the publish status');
      await waitFor(() => statusTexts(statuses, 'aggregate').some((t) => /1 cameras on 1 instances · 1 online/.test(t)), 10000, 'the aggregate status');
      helper.getNode('publish').receive({ payload: { type: 'enter', zoneId: 'z', trackId: 7, at: Date.now(), cameraId: 'door' } });
      await waitFor(() => out.some((m) => m.payload?.type === 'enter'), 10000, 'the event from the aggregate');
      const event = out.find((m) => m.payload?.type === 'enter')!;
      assert.deepEqual([event.topic, event.payload.cameraId, event.payload.instance, event.fleet.catchUp], ['shop1-door/zones/z/enter', 'shop1-door', 'shop1', false]);
      helper.getNode('publish').receive({ payload: 'neither counts nor an event' });
      await waitFor(() => errors.length === 1, 5000, 'a message it cannot use refused for Catch');
      assert.match(errors[0].error.message, /fleet-publish takes zone-analytics output/);
    });

    it('without a Redis server chosen, or with unusable settings, the nodes refuse to run and say why', async () => {
      await helper.load([redisConfig, fleetPublish, fleetAggregate, catchNode, statusNode], [
        { id: 'tab', type: 'tab' },
        { id: 'redis', type: 'redis-config', host: '127.0.0.1', port: 70000, db: 0, tls: false, prefix: 'x:', instance: '' },
        { id: 'publish', type: 'fleet-publish', z: 'tab', redis: '', offlineAfter: 15, interval: 1 },
        { id: 'badrate', type: 'fleet-publish', z: 'tab', redis: 'redis', offlineAfter: 1, interval: 1 },
        ...catcher(),
      ]);
      const errors = collect('errors');
      helper.getNode('publish').receive({ zones: [] });
      await waitFor(() => errors.length === 1, 5000, 'the refusal at a Catch node');
      assert.match(errors[0].error.message, /fleet-publish cannot run: choose a Redis server/);
      helper.getNode('badrate').receive({ zones: [] });
      await waitFor(() => errors.length === 2, 5000, 'the second refusal');
      assert.match(errors[1].error.message, /the Redis port must be 1 to 65535, got 70000/);
    });
  });
});
