import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { COCO_CLASS_NAMES } from './coco';
import { DEFAULT_MODEL_FILE } from './model-fetch';
import { parseClassNames, parseImageSize, readOnnxMetadata } from './onnx-metadata';

/** The package's own copy (a set-up checkout, the Docker image); Node-RED keeps its copy in the user directory. */
export const DEFAULT_MODEL_PATH = path.resolve(__dirname, '..', '..', '..', 'models', DEFAULT_MODEL_FILE);

export interface ModelOptions {
  /** Used when the model's input has symbolic height/width and its metadata gives no `imgsz`. */
  inputSize?: number;
  /** ONNX Runtime execution provider: `cpu` (in the npm package), or e.g. `cuda` where its binaries are installed. */
  executionProvider?: string;
  /** Threads for one inference; 0 lets ONNX Runtime choose. */
  threads?: number;
}

/** One loaded YOLOv8-format ONNX model: its session, input geometry and class names. */
export class YoloModel {
  private constructor(
    readonly file: string,
    private readonly session: ort.InferenceSession,
    readonly inputName: string,
    readonly outputName: string,
    readonly inputWidth: number,
    readonly inputHeight: number,
    /** Largest batch the input accepts: 1 for a fixed batch dimension, Infinity for a symbolic one. */
    readonly maxBatch: number,
    readonly classNames: readonly string[],
  ) {}

  static async load(file: string, options: ModelOptions = {}): Promise<YoloModel> {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new Error(`cannot read model file ${file}: ${(err as Error).message}`);
    }
    let metadata: Map<string, string>;
    try {
      metadata = readOnnxMetadata(bytes);
    } catch (err) {
      throw new Error(`${file} is not a loadable ONNX model: ${(err as Error).message}`);
    }
    const executionProvider = options.executionProvider ?? 'cpu';
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        executionProviders: [executionProvider],
        intraOpNumThreads: options.threads ?? 0,
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new Error(`ONNX Runtime cannot load ${file} with the "${executionProvider}" execution provider: ${(err as Error).message}`);
    }
    const input = session.inputMetadata[0];
    const shape = input?.isTensor ? input.shape : [];
    if (shape.length !== 4) {
      await session.release();
      throw new Error(`${file}: expected an image input [batch, 3, height, width], got [${shape.join(', ')}]`);
    }
    const fixed = (dim: number | string) => (typeof dim === 'number' && dim > 0 ? dim : undefined);
    const metaSize = metadata.has('imgsz') ? parseImageSize(metadata.get('imgsz')!) : null;
    const height = fixed(shape[2]) ?? metaSize?.[0] ?? options.inputSize ?? 640;
    const width = fixed(shape[3]) ?? metaSize?.[1] ?? options.inputSize ?? 640;
    const names = metadata.has('names') ? parseClassNames(metadata.get('names')!) : [];
    return new YoloModel(
      file,
      session,
      session.inputNames[0],
      session.outputNames[0],
      width,
      height,
      fixed(shape[0]) ?? Infinity,
      names.length > 0 ? names : [...COCO_CLASS_NAMES],
    );
  }

  labelOf(classId: number): string {
    return this.classNames[classId] ?? `class ${classId}`;
  }

  /** Runs the network on an NCHW float tensor holding `batch` images; returns the raw head output. */
  async run(input: Float32Array, batch: number): Promise<{ data: Float32Array; channels: number; anchors: number }> {
    const tensor = new ort.Tensor('float32', input, [batch, 3, this.inputHeight, this.inputWidth]);
    const results = await this.session.run({ [this.inputName]: tensor });
    const output = results[this.outputName];
    const [, channels, anchors] = output.dims;
    if (output.dims.length !== 3 || channels < 5) {
      throw new Error(`${this.file}: expected a YOLOv8 output [batch, 4 + classes, anchors], got [${output.dims.join(', ')}]`);
    }
    return { data: output.data as Float32Array, channels, anchors };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
