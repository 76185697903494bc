import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { evaluateMot } from '../src/tracking/metrics';
import { parseMot, type MotRow } from '../src/tracking/mot';
import { requireMot15 } from './support';

const row = (frame: number, id: number, x: number, y = 0, score = 1): MotRow => ({ frame, id, x, y, w: 10, h: 10, score });

describe('evaluateMot', () => {
  it('scores perfect tracking 100 everywhere', () => {
    const gt = [1, 2, 3].flatMap((f) => [row(f, 1, 0), row(f, 2, 100)]);
    const res = [1, 2, 3].flatMap((f) => [row(f, 7, 0), row(f, 9, 100)]);
    const m = evaluateMot(gt, res);
    assert.deepEqual([m.MOTA, m.MOTP, m.IDF1, m.FP, m.FN, m.IDs, m.Frag, m.MT, m.PT, m.ML], [100, 100, 100, 0, 0, 0, 0, 2, 0, 0]);
  });

  it('counts misses, false positives and the IoU >= 0.5 rule', () => {
    // Frame 1: a hit. Frame 2: the hypothesis is shifted 4 px (IoU 6/14 < 0.5): a miss and a false positive.
    // Frame 3: shifted 3 px (IoU 7/13 >= 0.5): a hit.
    const gt = [row(1, 1, 0), row(2, 1, 0), row(3, 1, 0)];
    const res = [row(1, 5, 0), row(2, 5, 4), row(3, 5, 3)];
    const m = evaluateMot(gt, res);
    assert.deepEqual([m.FN, m.FP, m.IDs, m.matches, m.Frag], [1, 1, 0, 2, 1]);
    assert.equal(m.MOTA, (1 - 2 / 3) * 100);
    assert.ok(Math.abs(m.MOTP - ((1 + 7 / 13) / 2) * 100) < 1e-9);
  });

  it('counts an identity switch when an object is picked up by another hypothesis', () => {
    const gt = [1, 2, 3, 4].map((f) => row(f, 1, 0));
    const res = [row(1, 5, 0), row(2, 5, 0), row(3, 6, 0), row(4, 6, 0)];
    const m = evaluateMot(gt, res);
    assert.deepEqual([m.IDs, m.FP, m.FN], [1, 0, 0]);
    assert.equal(m.MOTA, 75);
    // Best single id pairing explains 2 of 4 frames.
    assert.deepEqual([m.IDTP, m.IDFP, m.IDFN], [2, 2, 2]);
    assert.equal(m.IDF1, 50);
  });

  it('keeps an existing pairing while it stays valid, even when another hypothesis fits better', () => {
    const gt = [row(1, 1, 0), row(2, 1, 0)];
    // In frame 2 hypothesis 6 matches exactly, but 5 (IoU 8/12) still pairs: no switch, 6 is a false positive.
    const res = [row(1, 5, 0), row(2, 5, 2), row(2, 6, 0)];
    const m = evaluateMot(gt, res);
    assert.deepEqual([m.IDs, m.FP, m.FN], [0, 1, 0]);
  });

  it('ignores ground-truth rows with confidence below 1 and classifies tracked ratios', () => {
    const gt = [...[1, 2, 3, 4, 5].map((f) => row(f, 1, 0)), ...[1, 2, 3, 4, 5].map((f) => row(f, 2, 100)), row(1, 3, 300, 0, 0)];
    // Object 1 tracked 5/5 (MT), object 2 tracked 2/5 (PT), the ignored object 3 not at all.
    const res = [...[1, 2, 3, 4, 5].map((f) => row(f, 8, 0)), row(1, 9, 100), row(2, 9, 100)];
    const m = evaluateMot(gt, res);
    assert.deepEqual([m.groundTruthObjects, m.MT, m.PT, m.ML, m.FN, m.FP], [2, 1, 1, 0, 3, 0]);
  });

  it('reproduces the published figures of the reference SORT on TUD-Campus and TUD-Stadtmitte', function () {
    const data = requireMot15(this);
    const expected = {
      'TUD-Campus': { MOTA: 62.7, IDF1: 60.6, FP: 15, FN: 113, IDs: 6 },
      'TUD-Stadtmitte': { MOTA: 71.7, IDF1: 73.5, FP: 22, FN: 295, IDs: 10 },
    };
    for (const [sequence, figures] of Object.entries(expected)) {
      const gt = parseMot(readFileSync(path.join(data, 'train', sequence, 'gt', 'gt.txt'), 'utf8'));
      const res = parseMot(readFileSync(path.join(data, 'reference', `${sequence}.txt`), 'utf8'));
      const m = evaluateMot(gt, res);
      assert.deepEqual(
        { MOTA: +m.MOTA.toFixed(1), IDF1: +m.IDF1.toFixed(1), FP: m.FP, FN: m.FN, IDs: m.IDs },
        figures,
        sequence,
      );
    }
  });
});

describe('parseMot', () => {
  it('names the line of a malformed row', () => {
    assert.throws(() => parseMot('1,1,0,0,10,10,1\n1,2,zero,0,10,10', 'gt.txt'), /gt.txt:2: expected/);
    assert.throws(() => parseMot('0,1,0,0,10,10', 'det.txt'), /det.txt:1: frame must be/);
  });
});
