/**
 * Rectangular input for a square YOLOv8 export. A 4:3 camera letterboxed into 640×640 spends a quarter of every
 * inference on grey padding (16:9: 44 %); a 640×480 input sees the same pixels at the same scale in 73 % of the
 * time. Ultralytics' exports bake the input size into the head (the anchor grid, the strides and the reshape
 * targets), so the graph is edited: those constants are generated for the new size, and only once the originals are
 * recognised by generating them for the export's own size and finding them equal.
 */
import { GRAPH, MODEL, NODE, ATTRIBUTE, TENSOR, openModel, readTensor, stringsOf, opTypeOf, writeTensor } from './onnx-fields';
import { bytesField, decodeFields, encodeFields, messageField, stringField, varintField, type ProtoField } from './protobuf';

/** The head's three detection levels: one anchor per 8, 16 and 32 input pixels. */
const STRIDES = [8, 16, 32] as const;
const LARGEST_STRIDE = 32;
/** ValueInfoProto.type → TypeProto.tensor_type → shape, whose repeated dim has dim_value 1. */
const SHAPE_PATH = [2, 1, 2] as const;
const DIM = { dim: 1, value: 1 } as const;
const ENTRY = { key: 1, value: 2 } as const;

export interface InputSize {
  width: number;
  height: number;
}

export function formatSize(size: InputSize): string {
  return `${size.width}x${size.height}`;
}

/** Parses `640x384` (width × height). */
export function parseSize(text: string): InputSize | null {
  const match = /^\s*(\d+)\s*[x×]\s*(\d+)\s*$/i.exec(text);
  return match ? { width: Number(match[1]), height: Number(match[2]) } : null;
}

/** Anchors of a YOLOv8 head for an input size. */
export function anchorCount({ width, height }: InputSize): number {
  return STRIDES.reduce((sum, stride) => sum + (width / stride) * (height / stride), 0);
}

/**
 * The head's anchor centres ([1, 2, n]: every x, then every y) and strides ([1, n]), level by level and row by row,
 * in the export's order.
 */
export function anchorGrid(size: InputSize): { centres: Float32Array; strides: Float32Array } {
  const n = anchorCount(size);
  const centres = new Float32Array(2 * n);
  const strides = new Float32Array(n);
  let i = 0;
  for (const stride of STRIDES) {
    const columns = size.width / stride;
    const rows = size.height / stride;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++, i++) {
        centres[i] = x + 0.5;
        centres[n + i] = y + 0.5;
        strides[i] = stride;
      }
    }
  }
  return { centres, strides };
}

/**
 * The smallest input that shows every frame size at the scale the square model shows it: the long side stays the
 * model's, the short side is rounded up to the largest stride. Frames of different shapes share the largest.
 */
export function fittingInputSize(frames: readonly InputSize[], square: number): InputSize {
  const fit = (length: number) => Math.min(square, Math.ceil(length / LARGEST_STRIDE) * LARGEST_STRIDE);
  let width = LARGEST_STRIDE;
  let height = LARGEST_STRIDE;
  for (const frame of frames) {
    const scale = square / Math.max(frame.width, frame.height);
    width = Math.max(width, fit(frame.width * scale));
    height = Math.max(height, fit(frame.height * scale));
  }
  return frames.length === 0 ? { width: square, height: square } : { width, height };
}

/** Edits the dims of a ValueInfoProto's tensor shape. */
function editShape(valueInfo: Uint8Array, edit: (dims: (number | null)[]) => (number | null)[]): Uint8Array {
  const descend = (bytes: Uint8Array, depth: number): Uint8Array => {
    const fields = decodeFields(bytes);
    if (depth < SHAPE_PATH.length) {
      return encodeFields(fields.map((f) => (f.field === SHAPE_PATH[depth] && f.wire === 2 ? messageField(f.field, decodeFields(descend(f.bytes, depth + 1))) : f)));
    }
    const dims = fields.filter((f) => f.field === DIM.dim && f.wire === 2).map((f) => decodeFields(f.bytes));
    const values = dims.map((d) => {
      const value = d.find((f) => f.field === DIM.value && f.wire === 0);
      return value ? Number(value.varint) : null;
    });
    const edited = edit(values);
    let next = 0;
    return encodeFields(
      fields.map((f) => {
        if (f.field !== DIM.dim || f.wire !== 2) return f;
        const i = next++;
        if (edited[i] === values[i] || edited[i] === null) return f;
        return messageField(DIM.dim, [varintField(DIM.value, edited[i]!), ...dims[i].filter((g) => g.field !== DIM.value && g.field !== 2)]);
      }),
    );
  };
  return descend(valueInfo, 0);
}

function shapeOf(valueInfo: Uint8Array): (number | null)[] {
  let dims: (number | null)[] = [];
  editShape(valueInfo, (d) => (dims = d));
  return dims;
}

const sameValues = (a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>) => a.length === b.length && Array.prototype.every.call(a, (v, i) => v === b[i]);

/**
 * The export with its input changed to `size`: input and output shapes, the anchor grid, the strides and the
 * reshape targets regenerated. Throws with the reason when the export is not a recognised square-trained YOLOv8
 * with a fixed image input and a baked-in grid.
 */
export function reshapeYoloInput(bytes: Uint8Array, size: InputSize): Uint8Array {
  if (!(size.width > 0 && size.height > 0 && size.width % LARGEST_STRIDE === 0 && size.height % LARGEST_STRIDE === 0)) {
    throw new Error(`the input size ${formatSize(size)} must be whole multiples of ${LARGEST_STRIDE}`);
  }
  const { graph, withGraph } = openModel(bytes);
  const inputs = graph.filter((f) => f.field === GRAPH.input);
  const original = inputs.length === 1 ? shapeOf(inputs[0].bytes) : [];
  if (original.length !== 4 || original.some((d) => d === null || !(d > 0)) || original[1] !== 3) {
    throw new Error('the model does not have one fixed image input [batch, 3, height, width]');
  }
  const from: InputSize = { width: original[3]!, height: original[2]! };
  const before = anchorCount(from);
  const after = anchorCount(size);
  const originalGrid = anchorGrid(from);
  const grid = anchorGrid(size);

  const nodes = graph.filter((f) => f.field === GRAPH.node).map((f) => decodeFields(f.bytes));
  const strings = stringsOf;
  const opType = opTypeOf;
  const shapeConsumers = new Set(nodes.filter((n) => opType(n) === 'Reshape').map((n) => strings(n, NODE.input)[1]));
  for (const node of nodes) {
    if (opType(node) === 'Resize' && (strings(node, NODE.input)[3] ?? '') !== '') throw new Error(`its ${strings(node, NODE.name)[0]} resizes to fixed sizes, not by scale`);
  }
  let gridsReplaced = 0;
  let stridesReplaced = 0;
  /** The tensor for the new size, or the same fields when it does not depend on the input size. */
  const regenerate = (name: string, fields: ProtoField[]): ProtoField[] => {
    const { dims, values } = readTensor(fields);
    const mentionsAnchors = dims.includes(before) || (values instanceof BigInt64Array && values.includes(BigInt(before)));
    if (!mentionsAnchors) return fields;
    if (values instanceof Float32Array && dims.join() === `1,2,${before}` && sameValues(values, originalGrid.centres)) {
      gridsReplaced++;
      return writeTensor(fields, [1, 2, after], grid.centres.slice());
    }
    if (values instanceof Float32Array && dims.join() === `1,${before}` && sameValues(values, originalGrid.strides)) {
      stridesReplaced++;
      return writeTensor(fields, [1, after], grid.strides.slice());
    }
    if (values instanceof BigInt64Array && dims.length === 1 && shapeConsumers.has(name)) {
      return writeTensor(fields, dims, values.map((v) => (v === BigInt(before) ? BigInt(after) : v)));
    }
    throw new Error(`its constant ${name} [${dims.join(', ')}] depends on the input size in a way this edit does not know`);
  };
  const editedGraph = graph.flatMap((f): ProtoField[] => {
    switch (f.field) {
      case GRAPH.initializer: {
        const tensor = decodeFields(f.bytes);
        return [messageField(f.field, regenerate(strings(tensor, TENSOR.name)[0] ?? '', tensor))];
      }
      case GRAPH.node: {
        const node = decodeFields(f.bytes);
        if (opType(node) !== 'Constant') return [f];
        const name = strings(node, NODE.output)[0] ?? '';
        const attributes = node.map((a) => {
          if (a.field !== NODE.attribute) return a;
          const attribute = decodeFields(a.bytes);
          return messageField(a.field, attribute.map((t) => (t.field === ATTRIBUTE.tensor && t.wire === 2 ? messageField(t.field, regenerate(name, decodeFields(t.bytes))) : t)));
        });
        return [messageField(f.field, attributes)];
      }
      case GRAPH.input:
        return [bytesField(f.field, editShape(f.bytes, (d) => [d[0], d[1], size.height, size.width]))];
      case GRAPH.output:
        return [bytesField(f.field, editShape(f.bytes, (d) => d.map((v) => (v === before ? after : v))))];
      case GRAPH.valueInfo:
        // Intermediate shapes recorded by the exporter are for the old size; ONNX Runtime infers them again.
        return [];
      default:
        return [f];
    }
  });
  if (gridsReplaced === 0 || stridesReplaced === 0) throw new Error('no YOLOv8 anchor grid and strides were found for its input size');
  const editedModel = withGraph(editedGraph).map((f) => {
    if (f.field !== MODEL.metadata) return f;
    const entry = decodeFields(f.bytes);
    if (strings(entry, ENTRY.key)[0] !== 'imgsz') return f;
    return messageField(f.field, [stringField(ENTRY.key, 'imgsz'), stringField(ENTRY.value, `[${size.height}, ${size.width}]`)]);
  });
  return encodeFields(editedModel);
}
