import { strict as assert } from 'node:assert';
import { FrameStore } from '../src/camera/frame-store';
import { LatestOnlyScheduler } from '../src/detection/latest-only';

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

describe('LatestOnlyScheduler', () => {
  it('runs one item per key at a time and replaces the waiting one with the newest', async () => {
    const started: string[] = [];
    const dropped: string[] = [];
    const gates: (() => void)[] = [];
    const scheduler = new LatestOnlyScheduler<string>(
      (item) => {
        started.push(item);
        return new Promise<void>((resolve) => gates.push(resolve));
      },
      (item) => dropped.push(item),
    );
    for (const item of ['a1', 'a2', 'a3', 'a4', 'b1']) scheduler.submit(item[0], item);
    assert.deepEqual(started, ['a1', 'b1']);
    assert.deepEqual(dropped, ['a2', 'a3']);
    assert.equal(scheduler.waitingCount, 1);
    gates.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(started, ['a1', 'b1', 'a4']);
    assert.equal(scheduler.dropped, 2);
    assert.equal(scheduler.waitingCount, 0);
  });

  it('goes on after an item fails', async () => {
    const done: string[] = [];
    const scheduler = new LatestOnlyScheduler<string>(async (item) => {
      if (item === 'bad') throw new Error('boom');
      done.push(item);
    }, () => undefined);
    scheduler.submit('k', 'bad');
    scheduler.submit('k', 'good');
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(done, ['good']);
  });
});
