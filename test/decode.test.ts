import { strict as assert } from 'node:assert';
import { decodeYolov8, iou, nonMaxSuppression, type Candidate } from '../src/detection/decode';
import { postprocess } from '../src/detection/detector';
import { letterbox } from '../src/imaging/letterbox';
import type { Box } from '../src/types';

/** Builds a [1, 4 + classes, anchors] tensor from per-anchor (cx, cy, w, h, scores...) rows. */
function headOutput(anchors: number[][], numClasses: number): Float32Array {
  const out = new Float32Array((4 + numClasses) * anchors.length);
  anchors.forEach((values, i) => values.forEach((v, c) => (out[c * anchors.length + i] = v)));
  return out;
}

describe('decodeYolov8', () => {
  const output = headOutput(
    [
      [100, 100, 20, 40, 0.9, 0.1, 0.0],
      [300, 200, 10, 10, 0.2, 0.7, 0.1],
      [50, 60, 8, 8, 0.5, 0.0, 0.0],
      [10, 10, 4, 4, 0.49, 0.3, 0.0],
    ],
    3,
  );

  it('keeps anchors whose best class scores strictly above the threshold, with corner boxes', () => {
    const found = decodeYolov8(output, 3, 4, { confidence: 0.5, classes: null });
    assert.deepEqual(
      found.map((c) => [c.classId, +c.score.toFixed(2), c.box]),
      [
        [0, 0.9, [90, 80, 110, 120]],
        [1, 0.7, [295, 195, 305, 205]],
      ],
    );
  });

  it('filters classes after choosing the best class, so a box that is mostly a dog is not a person', () => {
    const found = decodeYolov8(output, 3, 4, { confidence: 0.25, classes: new Set([0]) });
    assert.deepEqual(found.map((c) => c.score.toFixed(2)), ['0.90', '0.50', '0.49']);
    const dogs = decodeYolov8(headOutput([[0, 0, 2, 2, 0.6, 0.8]], 2), 2, 1, { confidence: 0.25, classes: new Set([0]) });
    assert.equal(dogs.length, 0);
  });

  it('rejects a tensor too small for its stated shape', () => {
    assert.throws(() => decodeYolov8(new Float32Array(10), 80, 8400, { confidence: 0.5, classes: null }), /expected/);
  });
});

describe('iou', () => {
  it('is 1 for identical boxes, 0 for disjoint or touching ones, and exact in between', () => {
    assert.equal(iou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
    assert.equal(iou([0, 0, 10, 10], [10, 0, 20, 10]), 0);
    assert.equal(iou([0, 0, 10, 10], [5, 0, 15, 10]), 50 / 150);
    assert.equal(iou([0, 0, 0, 0], [0, 0, 0, 0]), 0);
  });
});

describe('nonMaxSuppression', () => {
  const candidate = (box: Box, score: number, classId = 0): Candidate => ({ box, score, classId });

  it('keeps the best of overlapping boxes of one class and all of different classes', () => {
    const kept = nonMaxSuppression(
      [
        candidate([0, 0, 10, 10], 0.6),
        candidate([1, 0, 11, 10], 0.9),
        candidate([0, 0, 10, 10], 0.8, 1),
        candidate([50, 50, 60, 60], 0.7),
      ],
      0.45,
    );
    assert.deepEqual(kept.map((c) => [c.score, c.classId]), [[0.9, 0], [0.8, 1], [0.7, 0]]);
  });

  it('suppresses only above the IoU threshold', () => {
    // IoU of these two is exactly 1/3.
    const pair = [candidate([0, 0, 10, 10], 0.9), candidate([5, 0, 15, 10], 0.8)];
    assert.equal(nonMaxSuppression(pair, 1 / 3).length, 2);
    assert.equal(nonMaxSuppression(pair, 0.3).length, 1);
  });

  it('returns at most maxDetections, best first', () => {
    const many = Array.from({ length: 20 }, (_, i) => candidate([i * 20, 0, i * 20 + 10, 10], i / 20));
    const kept = nonMaxSuppression(many, 0.45, 5);
    assert.deepEqual(kept.map((c) => c.score), [0.95, 0.9, 0.85, 0.8, 0.75]);
  });
});

describe('postprocess', () => {
  it('decodes, suppresses and maps boxes back to the original frame with labels', () => {
    const lb = letterbox(768, 576, 640, 640);
    // Two overlapping person boxes and one chair, in model-input pixels.
    const output = headOutput(
      [
        [150, 230, 100, 100, 0.8, 0.0],
        [152, 230, 100, 100, 0.7, 0.0],
        [400, 300, 40, 40, 0.1, 0.6],
      ],
      2,
    );
    const detections = postprocess(output, 6, 3, lb, { width: 768, height: 576 }, { labelOf: (id) => ['person', 'chair'][id] }, {
      confidence: 0.5,
      iou: 0.45,
      classes: null,
      maxDetections: 300,
    });
    assert.deepEqual(
      detections.map((d) => ({ ...d, score: +d.score.toFixed(2), bbox: d.bbox.map((v) => +v.toFixed(3)) })),
      [
        { classId: 0, label: 'person', score: 0.8, bbox: [120, 120, 240, 240] },
        { classId: 1, label: 'chair', score: 0.6, bbox: [456, 240, 504, 288] },
      ],
    );
  });
});
