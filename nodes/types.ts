import type { Node } from 'node-red';
import type { Detector } from '../src/detection/detector';

export type ModelPhase = 'fetching' | 'loading' | 'ready' | 'failed';

/** The yolo-model config node as detect nodes see it. */
export interface YoloModelNode extends Node {
  /** The shared detector; rejects with the load error when the model cannot be used. */
  detector(): Promise<Detector>;
  /** Where the model is on its way to being usable, for the detect nodes' status. */
  phase(): ModelPhase;
  modelPath: string;
}
