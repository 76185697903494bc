import type { FrameRef } from './types';

/** The parts of a message our nodes read to know which camera it belongs to. */
export interface CameraMessage {
  frame?: FrameRef;
  cameraId?: string;
  topic?: unknown;
}

/** The camera a message belongs to: its frame's camera, else msg.cameraId, else msg.topic, else "default". */
export function cameraIdOf(msg: CameraMessage): string {
  return msg.frame?.cameraId ?? msg.cameraId ?? (typeof msg.topic === 'string' && msg.topic !== '' ? msg.topic : 'default');
}
