import { strict as assert } from 'node:assert';
import { FrameStore } from '../src/camera/frame-store';

const frame = (cameraId: string, seq: number) => ({
  ref: { cameraId, seq, timestamp: seq, width: 1, height: 1, dropped: 0 },
  pixels: new Uint8Array(3),
  width: 1,
  height: 1,
});

describe('FrameStore', () => {
  it('keeps only the newest frames of each camera', () => {
    const store = new FrameStore(3);
    for (let seq = 1; seq <= 10; seq++) store.put(frame('a', seq));
    store.put(frame('b', 1));
    assert.equal(store.count('a'), 3);
    assert.equal(store.get({ cameraId: 'a', seq: 7 }), undefined);
    assert.equal(store.get({ cameraId: 'a', seq: 8 })?.ref.seq, 8);
    assert.equal(store.latest('a')?.ref.seq, 10);
    assert.equal(store.latest('b')?.ref.seq, 1);
    assert.equal(store.get({ cameraId: 'c', seq: 1 }), undefined);
    store.delete('a');
    assert.equal(store.count('a'), 0);
  });

  it('refuses a capacity below one', () => {
    assert.throws(() => new FrameStore(0), /at least 1/);
  });
});
