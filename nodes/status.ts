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

/**
 * A node whose settings cannot work: red status and an error now, and an error on every message so Catch
 * nodes see why nothing comes out.
 */
export function refuseToRun(node: Node, type: string, err: Error): void {
  node.status(errorStatus(err));
  node.error(err);
  node.on('input', (_msg, _send, done) => done(new Error(`${type} cannot run: ${err.message}`)));
}

/** A numeric setting from the editor: empty means the default. */
export function settingNumber(value: string | number | undefined, fallback: number): number {
  return value === '' || value === undefined ? fallback : Number(value);
}
