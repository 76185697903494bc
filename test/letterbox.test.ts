import { strict as assert } from 'node:assert';
import { fillInputTensor, letterbox, PAD_VALUE, toSourceBox } from '../src/imaging/letterbox';

describe('letterbox', () => {
  it('scales a 768x576 frame to 640x480 and centres it vertically', () => {
    const lb = letterbox(768, 576, 640, 640);
    assert.equal(lb.scale, 640 / 768);
    assert.deepEqual([lb.resizedWidth, lb.resizedHeight, lb.left, lb.top], [640, 480, 0, 80]);
  });

  it('gives the extra pixel of odd padding to the right and bottom, as Ultralytics does', () => {
    // 640x427 leaves 213 rows: 106 on top, 107 below.
    const lb = letterbox(640, 427, 640, 640);
    assert.deepEqual([lb.resizedWidth, lb.resizedHeight, lb.left, lb.top], [640, 427, 0, 106]);
    const portrait = letterbox(300, 600, 640, 640);
    assert.deepEqual([portrait.resizedWidth, portrait.resizedHeight, portrait.left, portrait.top], [320, 640, 160, 0]);
  });

  it('handles non-square model inputs', () => {
    const lb = letterbox(1920, 1080, 640, 384);
    assert.equal(lb.scale, 1 / 3);
    assert.deepEqual([lb.resizedWidth, lb.resizedHeight, lb.left, lb.top], [640, 360, 0, 12]);
  });

  it('rejects an empty image', () => {
    assert.throws(() => letterbox(0, 10, 640, 640), /positive/);
  });

  it('maps boxes back to source pixels and clips them to the image', () => {
    const lb = letterbox(768, 576, 640, 640);
    assert.deepEqual(toSourceBox([0, 80, 640, 560], lb, 768, 576), [0, 0, 768, 576]);
    assert.deepEqual(toSourceBox([100, 180, 200, 280], lb, 768, 576), [120, 120, 240, 240]);
    assert.deepEqual(toSourceBox([-10, 0, 700, 600], lb, 768, 576), [0, 0, 768, 576]);
  });
});

describe('fillInputTensor', () => {
  it('writes RGB planes scaled to 0..1 inside a 114-grey border', () => {
    // A 2x1 RGB image: one pure blue pixel, one pure red pixel, into a 4x4 input.
    const lb = letterbox(2, 1, 4, 4);
    assert.deepEqual([lb.resizedWidth, lb.resizedHeight, lb.left, lb.top], [4, 2, 0, 1]);
    const resized = new Uint8Array([0, 0, 255, 0, 0, 255, 255, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0, 255, 0, 0]);
    const tensor = new Float32Array(2 * 3 * 16).fill(-1);
    fillInputTensor(resized, lb, tensor, 1);
    assert.ok(tensor.subarray(0, 48).every((v) => v === -1), 'batch slot 0 untouched');
    const slot = tensor.subarray(48);
    const plane = (c: number) => Array.from(slot.subarray(c * 16, c * 16 + 16));
    const grey = Math.fround(PAD_VALUE / 255);
    // Row 0 and row 3 are padding; rows 1-2 hold blue, blue, red, red.
    assert.deepEqual(plane(0), [grey, grey, grey, grey, 0, 0, 1, 1, 0, 0, 1, 1, grey, grey, grey, grey]);
    assert.deepEqual(plane(1), [grey, grey, grey, grey, 0, 0, 0, 0, 0, 0, 0, 0, grey, grey, grey, grey]);
    assert.deepEqual(plane(2), [grey, grey, grey, grey, 1, 1, 0, 0, 1, 1, 0, 0, grey, grey, grey, grey]);
  });

  it('refuses an image smaller than the letterbox says', () => {
    const lb = letterbox(4, 4, 8, 8);
    assert.throws(() => fillInputTensor(new Uint8Array(10), lb, new Float32Array(3 * 64)), /expected 192/);
  });
});
