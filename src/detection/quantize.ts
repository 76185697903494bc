/**
 * Static int8 quantisation of a YOLOv8 export, in the QDQ form ONNX Runtime fuses into integer kernels
 * (QLinearConv, QLinearSigmoid, QLinearMul, …): every activation of the network's body is quantised to uint8 with
 * a scale from calibration, every convolution's weights to int8 per output channel. The head's last convolutions
 * and everything after them (box distributions, class scores, decoding) stay float: quantising them too cost
 * 2.5 points of AP in an experiment, the rest none.
 */
import { DATA_TYPE, GRAPH, MODEL, NODE, OPSET, TENSOR, floatOutput, graphNode, initializer, openModel, opTypeOf, readTensor, stringsOf } from './onnx-fields';
import { decodeFields, encodeFields, messageField, stringField, type ProtoField } from './protobuf';

/** The op types quantised: those ONNX Runtime's CPU provider runs on uint8 (fused from QDQ, or as they are). */
const QUANTIZED_OPS = new Set(['Conv', 'Sigmoid', 'Mul', 'Add', 'Concat', 'MaxPool', 'Resize', 'Split']);
/** Ops whose inputs after the first are weights or parameters (scales, split sizes), never activations. */
const FIRST_INPUT_ONLY = new Set(['Sigmoid', 'MaxPool', 'Resize', 'Split']);
/** Per-channel DequantizeLinear (its axis attribute) came with opset 13. */
const MIN_OPSET = 13;
const INT8_MAX = 127;
const UINT8_MAX = 255;

export interface Range {
  min: number;
  max: number;
}

interface Plan {
  graph: ProtoField[];
  withGraph: (graph: readonly ProtoField[]) => ProtoField[];
  nodes: ProtoField[][];
  initializers: Map<string, ProtoField[]>;
  /** The index of the node writing each tensor. */
  producer: Map<string, number>;
  /** Nodes left in float: the head's last convolutions and everything after them. */
  float: Set<number>;
  /** The activations quantised, in the order they are produced. */
  activations: string[];
}

function plan(bytes: Uint8Array): Plan {
  const { model, graph, withGraph } = openModel(bytes);
  const opset = model
    .filter((f) => f.field === MODEL.opsetImport)
    .map(({ bytes: b }) => decodeFields(b))
    .find((entry) => (stringsOf(entry, OPSET.domain)[0] ?? '') === '');
  const version = Number(opset?.find((f) => f.field === OPSET.version)?.varint ?? 0n);
  if (version < MIN_OPSET) throw new Error(`its opset ${version} is older than ${MIN_OPSET}, which per-channel quantisation needs`);
  const nodes = graph.filter((f) => f.field === GRAPH.node).map((f) => decodeFields(f.bytes));
  const initializers = new Map<string, ProtoField[]>();
  for (const f of graph.filter((g) => g.field === GRAPH.initializer)) {
    const tensor = decodeFields(f.bytes);
    initializers.set(stringsOf(tensor, TENSOR.name)[0] ?? '', tensor);
  }
  const producer = new Map<string, number>();
  nodes.forEach((node, i) => stringsOf(node, NODE.output).forEach((t) => producer.set(t, i)));

  // Back from the outputs, through the decoding, to the convolutions that read the body's activated features.
  const outputs = graph.filter((f) => f.field === GRAPH.output).map((f) => stringsOf(decodeFields(f.bytes), 1)[0]);
  const float = new Set<number>();
  let heads = 0;
  const stack = outputs.map((t) => producer.get(t));
  while (stack.length > 0) {
    const i = stack.pop();
    if (i === undefined || float.has(i)) continue;
    float.add(i);
    const inputs = stringsOf(nodes[i], NODE.input);
    const source = producer.get(inputs[0]);
    if (opTypeOf(nodes[i]) === 'Conv' && source !== undefined && opTypeOf(nodes[source]) === 'Mul') {
      heads++;
      continue;
    }
    stack.push(...inputs.map((t) => producer.get(t)));
  }
  if (heads === 0 || float.size === nodes.length) throw new Error('no YOLOv8 head (convolutions reading activated features) was found');

  const isConstant = (t: string) => initializers.has(t) || (producer.has(t) && opTypeOf(nodes[producer.get(t)!]) === 'Constant');
  const wanted = new Set<string>();
  nodes.forEach((node, i) => {
    const op = opTypeOf(node);
    if (float.has(i) || !QUANTIZED_OPS.has(op)) return;
    const inputs = stringsOf(node, NODE.input);
    for (const t of FIRST_INPUT_ONLY.has(op) || op === 'Conv' ? inputs.slice(0, 1) : inputs) {
      if (t !== '' && !isConstant(t)) wanted.add(t);
    }
    if (op === 'Conv' && readTensor(initializers.get(inputs[1]) ?? []).dims.length !== 4) {
      throw new Error(`its convolution ${stringsOf(node, NODE.name)[0]} has no constant 2-D weights`);
    }
  });
  const graphInputs = graph.filter((f) => f.field === GRAPH.input).map((f) => stringsOf(decodeFields(f.bytes), 1)[0]);
  const order = [...graphInputs, ...nodes.flatMap((node) => stringsOf(node, NODE.output))];
  return { graph, withGraph, nodes, initializers, producer, float, activations: order.filter((t) => wanted.has(t)) };
}

/** The activations to calibrate, and the model with each of them added to its outputs. */
export function calibrationModel(bytes: Uint8Array): { bytes: Uint8Array; activations: string[] } {
  const { graph, withGraph, activations } = plan(bytes);
  return { bytes: encodeFields(withGraph([...graph, ...activations.map(floatOutput)])), activations };
}

/** Asymmetric uint8 parameters covering a range (and zero, so padding stays exact). */
function uint8Parameters({ min, max }: Range): { scale: number; zeroPoint: number } {
  const low = Math.min(0, min);
  const high = Math.max(0, max);
  const scale = (high - low) / UINT8_MAX || 1;
  return { scale, zeroPoint: Math.min(UINT8_MAX, Math.max(0, Math.round(-low / scale))) };
}

/**
 * The model quantised with calibrated activation ranges (`ranges` must hold every activation calibrationModel
 * named). Biases become int32 at the scale of their convolution's input times its weights', as the fused
 * kernels require.
 */
export function quantizeModel(bytes: Uint8Array, ranges: ReadonlyMap<string, Range>): Uint8Array {
  const { graph, withGraph, nodes, initializers, producer, float, activations } = plan(bytes);
  const inserted = new Map<string, ProtoField[]>();
  const addAfter = (tensor: string, ...fields: ProtoField[]) => inserted.set(tensor, [...(inserted.get(tensor) ?? []), ...fields]);
  const newInitializers: ProtoField[] = [];
  const inputScale = new Map<string, number>();
  for (const t of activations) {
    const range = ranges.get(t);
    if (!range || !Number.isFinite(range.min) || !Number.isFinite(range.max)) throw new Error(`no calibrated range for ${t}`);
    const { scale, zeroPoint } = uint8Parameters(range);
    inputScale.set(t, scale);
    newInitializers.push(initializer(`${t}_scale`, DATA_TYPE.float, [], Float32Array.of(scale)), initializer(`${t}_zero_point`, DATA_TYPE.uint8, [], Uint8Array.of(zeroPoint)));
    addAfter(
      t,
      graphNode('QuantizeLinear', `${t}_quantize`, [t, `${t}_scale`, `${t}_zero_point`], [`${t}_quantized`]),
      graphNode('DequantizeLinear', `${t}_dequantize`, [`${t}_quantized`, `${t}_scale`, `${t}_zero_point`], [`${t}_dequantized`]),
    );
  }
  /** A constant stored as integers per output channel, and the node giving it back as float. */
  const perChannel = (name: string, dataType: number, dims: number[], values: Int8Array | Int32Array, scales: Float32Array) => {
    newInitializers.push(
      initializer(`${name}_quantized`, dataType, dims, values),
      initializer(`${name}_scale`, DATA_TYPE.float, [scales.length], scales),
      initializer(`${name}_zero_point`, dataType, [scales.length], dataType === DATA_TYPE.int8 ? new Int8Array(scales.length) : new Int32Array(scales.length)),
    );
    addAfter('', graphNode('DequantizeLinear', `${name}_dequantize`, [`${name}_quantized`, `${name}_scale`, `${name}_zero_point`], [`${name}_dequantized`], { axis: 0 }));
  };

  const quantized = new Set(activations);
  const replaced = new Set<string>();
  const editedNodes = nodes.map((node, i) => {
    const inputs = stringsOf(node, NODE.input);
    // Float consumers read the dequantized tensor too, so every producer's output goes to its QuantizeLinear alone.
    const renamed = inputs.map((t) => (quantized.has(t) ? `${t}_dequantized` : t));
    if (!float.has(i) && opTypeOf(node) === 'Conv') {
      const weights = readTensor(initializers.get(inputs[1])!);
      const values = weights.values as Float32Array;
      const channels = weights.dims[0];
      const perFilter = values.length / channels;
      const scales = new Float32Array(channels);
      const int8 = new Int8Array(values.length);
      for (let c = 0; c < channels; c++) {
        let largest = 0;
        for (let k = c * perFilter; k < (c + 1) * perFilter; k++) largest = Math.max(largest, Math.abs(values[k]));
        scales[c] = largest / INT8_MAX || 1;
        for (let k = c * perFilter; k < (c + 1) * perFilter; k++) int8[k] = Math.round(values[k] / scales[c]);
      }
      perChannel(inputs[1], DATA_TYPE.int8, weights.dims, int8, scales);
      replaced.add(inputs[1]);
      renamed[1] = `${inputs[1]}_dequantized`;
      const bias = inputs[2] ? readTensor(initializers.get(inputs[2]) ?? []).values : null;
      if (bias instanceof Float32Array) {
        const biasScales = scales.map((s) => s * inputScale.get(inputs[0])!);
        perChannel(inputs[2], DATA_TYPE.int32, [channels], Int32Array.from(bias, (b, c) => Math.round(b / biasScales[c])), biasScales);
        replaced.add(inputs[2]);
        renamed[2] = `${inputs[2]}_dequantized`;
      }
    }
    return messageField(GRAPH.node, [...renamed.map((t) => stringField(NODE.input, t)), ...node.filter((f) => f.field !== NODE.input)]);
  });

  // Nodes stay in topological order: each tensor's quantize/dequantize pair right after the node writing it, those
  // of graph inputs and constants first.
  const ordered: ProtoField[] = [];
  for (const [tensor, fields] of inserted) if (!producer.has(tensor)) ordered.push(...fields);
  editedNodes.forEach((node, i) => {
    ordered.push(node);
    for (const t of stringsOf(nodes[i], NODE.output)) ordered.push(...(inserted.get(t) ?? []));
  });
  const kept = graph.filter((f) => f.field !== GRAPH.node && !(f.field === GRAPH.initializer && replaced.has(stringsOf(decodeFields(f.bytes), TENSOR.name)[0] ?? '')));
  return encodeFields(withGraph([...ordered, ...kept, ...newInitializers]));
}
