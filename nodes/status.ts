import type { Node, NodeStatus } from 'node-red';
import { MAX_DEPTH, MessageError, nestedTooDeep } from '../src/messages';

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
  node.on('input', (msg, _send, done) => failMessage(msg, done, new Error(`${type} cannot run: ${err.message}`)));
}

/** A numeric setting from the editor: empty means the default. */
export function settingNumber(value: string | number | undefined, fallback: number): number {
  return value === '' || value === undefined ? fallback : Number(value);
}

/** Replaces the properties nested too deep for Node-RED to copy by a note; returns their names. */
function stripTooDeep(msg: object): string[] {
  const fields = msg as Record<string, unknown>;
  const deep = Object.keys(fields).filter((key) => key !== 'req' && key !== 'res' && nestedTooDeep(fields[key]));
  for (const key of deep) fields[key] = '[removed: nested too deep to copy]';
  return deep;
}

/**
 * Ends a message with an error for Catch nodes. Node-RED copies the message for each Catch node, and its copy
 * recurses: properties nested too deep for that (hostile input) are replaced by a note first, so the error still
 * arrives (with msg.req and msg.res, so an http response can answer the caller).
 */
export function failMessage(msg: object, done: (err?: Error) => void, err: Error): void {
  stripTooDeep(msg);
  done(err);
}

/**
 * Refuses, first thing, a message nested too deep for Node-RED to copy: passed on or completed, its copy would
 * overflow the stack where no Catch node sees it. Returns true when it was refused.
 */
export function refuseTooDeep(msg: object, done: (err?: Error) => void): boolean {
  const deep = stripTooDeep(msg);
  if (deep.length === 0) return false;
  done(new MessageError(`${deep.map((key) => `msg.${key}`).join(', ')} nested more than ${MAX_DEPTH} levels deep: refused`));
  return true;
}
