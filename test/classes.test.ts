import { strict as assert } from 'node:assert';
import { parseClassList } from '../src/detection/classes';
import { COCO_CLASS_NAMES } from '../src/detection/coco';

describe('parseClassList', () => {
  it('reads all, ids, names and mixtures', () => {
    assert.equal(parseClassList('all', COCO_CLASS_NAMES), null);
    assert.equal(parseClassList('', COCO_CLASS_NAMES), null);
    assert.deepEqual([...parseClassList('0, 2', COCO_CLASS_NAMES)!], [0, 2]);
    assert.deepEqual([...parseClassList('Person,car', COCO_CLASS_NAMES)!], [0, 2]);
    assert.deepEqual([...parseClassList(['person', 16], COCO_CLASS_NAMES)!], [0, 16]);
  });

  it('names the problem for unknown classes', () => {
    assert.throws(() => parseClassList('unicorn', COCO_CLASS_NAMES), /unknown class "unicorn"/);
    assert.throws(() => parseClassList('80', COCO_CLASS_NAMES), /class 80 does not exist: the model has 80 classes/);
  });
});
