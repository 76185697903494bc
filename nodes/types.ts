import type { Node } from 'node-red';
import type { Detector } from '../src/detection/detector';

/** The yolo-model config node as detect nodes see it. */
export interface YoloModelNode extends Node {
  /** The shared detector; rejects with the load error when the model cannot be used. */
  detector(): Promise<Detector>;
  modelPath: string;
}
