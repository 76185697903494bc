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

  it("reuses an evicted frame's pixels for a new frame of the same size, and only buffers it allocated", () => {
    const store = new FrameStore(2);
    const put = (seq: number, pixels: Uint8Array) => store.put({ ...frame('a', seq), pixels });
    const first = store.allocate(3);
    put(1, first);
    put(2, store.allocate(3));
    const own = new Uint8Array(3);
    put(3, own);
    assert.equal(store.allocate(3), first, 'seq 1 was evicted: its buffer comes back');
    put(4, store.allocate(3));
    put(5, store.allocate(3));
    const fresh = store.allocate(3);
    assert.notEqual(fresh, own, 'a buffer put by someone else is never handed out');
    assert.notEqual(store.allocate(6), fresh, 'sizes are not mixed');
    assert.equal(store.allocate(6).length, 6);
  });

  it('keeps held pixels until their last hold is released, and gives stopped cameras\' buffers back', async () => {
    const store = new FrameStore(1);
    const first = store.allocate(3);
    const held = { ...frame('a', 1), pixels: first };
    store.put(held);
    const release = store.hold(held);
    const releaseToo = store.hold(held);
    store.put({ ...frame('a', 2), pixels: store.allocate(3) });
    assert.notEqual(store.allocate(3), first, 'evicted but held');
    release();
    release();
    assert.notEqual(store.allocate(3), first, 'one hold is left (a second release of the same hold does nothing)');
    releaseToo();
    assert.equal(store.allocate(3), first, 'reused once the last hold is released');

    const second = store.allocate(3);
    const kept = { ...frame('b', 1), pixels: second };
    store.put(kept);
    await assert.rejects(
      store.using(kept, async () => {
        store.delete('b');
        assert.notEqual(store.allocate(3), second, 'held while in use');
        throw new Error('the use failed');
      }),
      /the use failed/,
    );
    assert.equal(store.allocate(3), second, 'released when the use settles, even by failing');
  });

  it('refuses a capacity below one', () => {
    assert.throws(() => new FrameStore(0), /at least 1/);
  });
});
