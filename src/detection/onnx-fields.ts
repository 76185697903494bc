/**
 * The parts of ONNX's protobuf schema (onnx.proto) that the model edits here read and write: field numbers, data
 * types, and tensors and nodes as field lists.
 */
import { bytesField, decodeFields, messageField, repeatedVarints, stringField, textOf, varintField, type ProtoField } from './protobuf';

export const MODEL = { graph: 7, opsetImport: 8, metadata: 14 } as const;
export const OPSET = { domain: 1, version: 2 } as const;
export const GRAPH = { node: 1, initializer: 5, input: 11, output: 12, valueInfo: 13 } as const;
export const NODE = { input: 1, output: 2, name: 3, opType: 4, attribute: 5 } as const;
export const ATTRIBUTE = { name: 1, int: 3, tensor: 5, type: 20 } as const;
const ATTRIBUTE_INT = 2;
export const TENSOR = { dims: 1, dataType: 2, floatData: 4, int64Data: 7, name: 8, rawData: 9 } as const;
/** ValueInfoProto: name and type → TypeProto.tensor_type → elem_type and shape. */
export const VALUE_INFO = { name: 1, type: 2 } as const;
const TYPE_TENSOR = 1;
const TENSOR_TYPE_ELEMENT = 1;
/** TensorProto data types. */
export const DATA_TYPE = { float: 1, uint8: 2, int8: 3, int32: 6, int64: 7 } as const;

export const stringsOf = (fields: readonly ProtoField[], number: number): string[] => fields.filter((f) => f.field === number).map(textOf);
export const opTypeOf = (node: readonly ProtoField[]): string => stringsOf(node, NODE.opType)[0] ?? '';

export interface Tensor {
  dims: number[];
  values: Float32Array | BigInt64Array | null;
}

export function readTensor(fields: readonly ProtoField[]): Tensor {
  const dims = repeatedVarints(fields, TENSOR.dims).map((d) => Number(BigInt.asIntN(64, d)));
  const dataType = Number(fields.find((f) => f.field === TENSOR.dataType)?.varint ?? 0n);
  const raw = fields.find((f) => f.field === TENSOR.rawData);
  if (raw && raw.bytes.length > 0) {
    // A copy, aligned for the typed arrays.
    const bytes = new Uint8Array(raw.bytes);
    if (dataType === DATA_TYPE.float) return { dims, values: new Float32Array(bytes.buffer, 0, bytes.length / 4) };
    if (dataType === DATA_TYPE.int64) return { dims, values: new BigInt64Array(bytes.buffer, 0, bytes.length / 8) };
    return { dims, values: null };
  }
  if (dataType === DATA_TYPE.float) {
    const floats = fields.filter((f) => f.field === TENSOR.floatData).map((f) => new Uint8Array(f.bytes));
    const bytes = new Uint8Array(Buffer.concat(floats));
    return { dims, values: new Float32Array(bytes.buffer, 0, bytes.length / 4) };
  }
  if (dataType === DATA_TYPE.int64) return { dims, values: BigInt64Array.from(repeatedVarints(fields, TENSOR.int64Data).map((v) => BigInt.asIntN(64, v))) };
  return { dims, values: null };
}

type TypedValues = Float32Array | BigInt64Array | Int32Array | Int8Array | Uint8Array;
const rawBytes = (values: TypedValues) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

/** The tensor's fields with new dims and values (as raw data); its name, type and anything else kept. */
export function writeTensor(fields: readonly ProtoField[], dims: number[], values: Float32Array | BigInt64Array): ProtoField[] {
  const replaced = new Set<number>([TENSOR.dims, TENSOR.floatData, TENSOR.int64Data, TENSOR.rawData]);
  return [...dims.map((d) => varintField(TENSOR.dims, d)), ...fields.filter((f) => !replaced.has(f.field)), bytesField(TENSOR.rawData, rawBytes(values))];
}

/** A new initializer (a graph field). */
export function initializer(name: string, dataType: number, dims: readonly number[], values: TypedValues): ProtoField {
  return messageField(GRAPH.initializer, [
    ...dims.map((d) => varintField(TENSOR.dims, d)),
    varintField(TENSOR.dataType, dataType),
    stringField(TENSOR.name, name),
    bytesField(TENSOR.rawData, rawBytes(values)),
  ]);
}

/** A new node (a graph field), with integer attributes. */
export function graphNode(opType: string, name: string, inputs: readonly string[], outputs: readonly string[], ints: Record<string, number> = {}): ProtoField {
  return messageField(GRAPH.node, [
    ...inputs.map((t) => stringField(NODE.input, t)),
    ...outputs.map((t) => stringField(NODE.output, t)),
    stringField(NODE.name, name),
    stringField(NODE.opType, opType),
    ...Object.entries(ints).map(([key, value]) =>
      messageField(NODE.attribute, [stringField(ATTRIBUTE.name, key), varintField(ATTRIBUTE.int, value), varintField(ATTRIBUTE.type, ATTRIBUTE_INT)]),
    ),
  ]);
}

/** A graph output of float elements, any shape. */
export function floatOutput(name: string): ProtoField {
  return messageField(GRAPH.output, [
    stringField(VALUE_INFO.name, name),
    messageField(VALUE_INFO.type, [messageField(TYPE_TENSOR, [varintField(TENSOR_TYPE_ELEMENT, DATA_TYPE.float)])]),
  ]);
}

/** The model's fields and its graph's, decoded, and a way to put an edited graph back. */
export function openModel(bytes: Uint8Array): { model: ProtoField[]; graph: ProtoField[]; withGraph: (graph: readonly ProtoField[]) => ProtoField[] } {
  const model = decodeFields(bytes);
  const graphField = model.find((f) => f.field === MODEL.graph && f.wire === 2);
  const graph = graphField ? decodeFields(graphField.bytes) : [];
  return { model, graph, withGraph: (edited) => model.map((f) => (f === graphField ? messageField(MODEL.graph, edited) : f)) };
}
