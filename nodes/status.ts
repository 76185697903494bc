import type { Node, NodeStatus } from 'node-red';

/** Node-RED sends every status change to each open editor; per-frame nodes refresh it at most once a second. */
const STATUS_INTERVAL_MS = 1000;

export interface ThrottledStatus {
  /** Shows the current status at once (state changes). */
  now(): void;
  stop(): void;
}

export function startThrottledStatus(node: Node, compute: () => NodeStatus | null): ThrottledStatus {
  let last = '';
  const show = () => {
    const status = compute();
    if (!status) return;
    const key = JSON.stringify(status);
    if (key === last) return;
    last = key;
    node.status(status);
  };
  const timer = setInterval(show, STATUS_INTERVAL_MS);
  timer.unref();
  return {
    now: show,
    stop: () => clearInterval(timer),
  };
}

export function errorStatus(err: Error): NodeStatus {
  const text = err.message.length > 60 ? `${err.message.slice(0, 57)}…` : err.message;
  return { fill: 'red', shape: 'ring', text };
}
