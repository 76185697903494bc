import type { NodeAPI, NodeDef } from 'node-red';
import { Detector } from '../src/detection/detector';
import { DEFAULT_MODEL_PATH, YoloModel } from '../src/detection/model';
import type { YoloModelNode } from './types';

interface YoloModelDef extends NodeDef {
  modelPath: string;
  threads: string | number;
  inputSize: string | number;
  maxBatch: string | number;
  executionProvider: string;
}


export = function register(RED: NodeAPI): void {
  function YoloModelConfigNode(this: YoloModelNode, config: YoloModelDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    node.modelPath = config.modelPath?.trim() || DEFAULT_MODEL_PATH;
    const loading = YoloModel.load(node.modelPath, {
      threads: Number(config.threads) || 0,
      inputSize: Number(config.inputSize) || undefined,
      executionProvider: config.executionProvider?.trim() || 'cpu',
    }).then((model) => new Detector(model, Math.max(1, Number(config.maxBatch) || 4)));
    // Detect nodes report a load failure on their own messages; this keeps it from being unhandled.
    loading.catch(() => undefined);
    node.detector = () => loading;

    node.on('close', (_removed: boolean, done: () => void) => {
      loading.then((detector) => detector.close()).then(done, () => done());
    });
  }

  RED.nodes.registerType('yolo-model', YoloModelConfigNode);
};
