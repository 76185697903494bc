import { strict as assert } from 'node:assert';
import { cameraIdOf, MAX_LIST_LENGTH, nestedTooDeep, plainJson, readFrameRef, readTracks } from '../src/messages';

const frame = { cameraId: 'door', seq: 3, timestamp: 1_700_000_000_000, width: 640, height: 480, dropped: 0 };

describe('message checks (src/messages.ts)', () => {
  it('accepts a frame reference as camera-source sends it, and refuses each kind of bad one naming the property and range', () => {
    assert.deepEqual(readFrameRef(frame), frame);
    assert.deepEqual(readFrameRef({ ...frame, dropped: undefined }), frame);
    const refused = (change: object, pattern: RegExp) => assert.throws(() => readFrameRef({ ...frame, ...change }), pattern);
    refused({ width: 30000, height: 30000 }, /msg.frame.width must be a whole number of pixels from 1 to 16384, got 30000/);
    refused({ width: 16000, height: 16000 }, /msg.frame is 16000x16000; frames of at most 36 megapixels are accepted/);
    refused({ width: 640.5 }, /msg.frame.width must be a whole number/);
    refused({ height: NaN }, /msg.frame.height must be a whole number of pixels from 1 to 16384, got NaN/);
    refused({ height: 0 }, /msg.frame.height/);
    refused({ timestamp: Infinity }, /msg.frame.timestamp must be a time in ms since 1970, got Infinity/);
    refused({ seq: -1 }, /msg.frame.seq must be a whole number from 0/);
    refused({ seq: 10n }, /msg.frame.seq must be a whole number from 0, got 10n/);
    refused({ cameraId: { toString: null } }, /msg.frame.cameraId must be a camera id \(1 to 128 printable characters\), got an object/);
    refused({ cameraId: '' }, /msg.frame.cameraId must be a camera id/);
    refused({ cameraId: 'a\nb' }, /msg.frame.cameraId must be a camera id/);
    assert.throws(() => readFrameRef('frame 3'), /msg.frame must be the frame reference of a camera-source node, got "frame 3"/);
  });

  it('names the camera from the frame, msg.cameraId or msg.topic, checking each', () => {
    assert.equal(cameraIdOf({ frame }), 'door');
    assert.equal(cameraIdOf({ cameraId: 'till' }), 'till');
    assert.equal(cameraIdOf({ topic: 'aisle' }), 'aisle');
    assert.equal(cameraIdOf({}), 'default');
    assert.throws(() => cameraIdOf({ cameraId: Object.create(null) }), /msg.cameraId must be a camera id/);
    assert.throws(() => cameraIdOf({ topic: 'x'.repeat(200) }), /msg.topic must be a camera id/);
  });

  it('keeps well-formed tracks only, up to a limit, and counts the others; refuses huge lists before reading them', () => {
    const label = Object.assign(Object.create(null), { a: 1 });
    const { tracks, dropped } = readTracks(
      [
        { id: 1, bbox: [0, 0, 10, 20], detection: { label: 'person' } },
        { id: 2, bbox: [0, 0, 10, 20], detection: { label } },
        { id: 1, bbox: [5, 5, 15, 25] },
        { id: '3', bbox: [0, 0, 10, 20] },
        { id: 4, bbox: [0, 0, NaN, 20] },
        { id: 5, bbox: [10, 0, 0, 20] },
        null,
        { id: 6, bbox: [0, 0, 1, 1] },
        { id: 7, bbox: [0, 0, 1, 1] },
      ],
      3,
    );
    assert.deepEqual(tracks, [
      { id: 1, bbox: [0, 0, 10, 20], label: 'person' },
      { id: 2, bbox: [0, 0, 10, 20], label: null },
      { id: 6, bbox: [0, 0, 1, 1], label: null },
    ]);
    assert.equal(dropped, 6);
    assert.throws(() => readTracks(new Array(MAX_LIST_LENGTH + 1).fill(null), 1000), /msg.tracks has 10001 entries; at most 10000 are accepted/);
    const born = readTracks(
      [
        { id: 1, bbox: [0, 0, 10, 20], firstBox: [5, 0, 15, 20], firstSeenAt: 1000 },
        { id: 2, bbox: [0, 0, 10, 20], firstBox: [5, 0, 15, 20] },
        { id: 3, bbox: [0, 0, 10, 20], firstBox: 'left', firstSeenAt: 1000 },
        { id: 4, bbox: [0, 0, 10, 20], firstBox: [5, 0, 15, 20], firstSeenAt: Infinity },
      ],
      10,
    );
    assert.deepEqual(born.tracks.map((t) => t.firstSeen ?? null), [{ bbox: [5, 0, 15, 20], at: 1000 }, null, null, null], 'where a track was born, only when both parts are well-formed');
    assert.throws(() => readTracks({ length: 3 }, 1000), /msg.tracks must be an array \(from sort-track\), got an object/);
  });

  it('tells values nested too deep for Node-RED to copy, without recursing itself', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(nestedTooDeep(deep), true);
    assert.equal(nestedTooDeep({ a: [{ b: { c: [1, 2, 3] } }], buffer: Buffer.alloc(10) }), false);
  });

  it('copies what the API keeps as plain JSON, BigInts as text, and refuses what cannot be JSON', () => {
    assert.deepEqual(plainJson({ n: 10n, list: [1, 'a'] }, 'msg.zones'), { n: '10', list: [1, 'a'] });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.throws(() => plainJson(cycle, 'msg.zones'), /msg.zones cannot be written as JSON/);
    assert.throws(() => plainJson('x'.repeat(2_000_000), 'msg.lines'), /msg.lines takes 2000002 bytes as JSON; at most 1000000 are accepted/);
  });
});
