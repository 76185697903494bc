import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { parseClassNames, parseImageSize, readOnnxMetadata } from '../src/detection/onnx-metadata';
import { requireModel } from './support';

/** Encodes a minimal ModelProto: ir_version (field 1) and metadata_props (field 14) entries. */
function fakeModel(entries: [string, string][]): Uint8Array {
  const bytes: number[] = [0x08, 0x08];
  const text = (field: number, value: string) => {
    const encoded = [...Buffer.from(value)];
    return [(field << 3) | 2, encoded.length, ...encoded];
  };
  for (const [key, value] of entries) {
    const entry = [...text(1, key), ...text(2, value)];
    bytes.push((14 << 3) | 2, entry.length, ...entry);
  }
  return Uint8Array.from(bytes);
}

describe('ONNX metadata', () => {
  it('reads metadata_props entries and skips other fields', () => {
    const metadata = readOnnxMetadata(fakeModel([['names', "{0: 'shelf'}"], ['imgsz', '[480, 640]']]));
    assert.deepEqual([...metadata], [['names', "{0: 'shelf'}"], ['imgsz', '[480, 640]']]);
  });

  it('reports a truncated file instead of reading past its end', () => {
    assert.throws(() => readOnnxMetadata(Uint8Array.from([(14 << 3) | 2, 50, 1, 2])), /truncated/);
  });

  it("parses Ultralytics' names dictionary, quotes and escapes included", () => {
    assert.deepEqual(parseClassNames(`{0: 'person', 1: "kid's bike", 2: 'it\\'s'}`), ['person', "kid's bike", "it's"]);
    assert.deepEqual(parseImageSize('[480, 640]'), [480, 640]);
    assert.deepEqual(parseImageSize('320'), [320, 320]);
    assert.equal(parseImageSize('none'), null);
  });

  it('finds the 80 COCO names in the bundled YOLOv8n', function () {
    const metadata = readOnnxMetadata(readFileSync(requireModel(this)));
    const names = parseClassNames(metadata.get('names') ?? '');
    assert.equal(names.length, 80);
    assert.equal(names[0], 'person');
    assert.equal(names[79], 'toothbrush');
  });
});
