import type { Box, FrameRef } from './types';

/**
 * What our nodes accept from a message, checked once here for every node: anything else is refused with an
 * error that names the message property and the allowed range, before it reaches any state.
 */

/** Largest frame side, and largest frame (8K UHD is 33 megapixels): far above any camera, far below what would exhaust memory in a per-pixel image. */
export const MAX_FRAME_SIDE = 16384;
export const MAX_FRAME_PIXELS = 36_000_000;
/** Camera ids name cameras in topics, URLs and files: printable, short. */
const CAMERA_ID = /^[^\u0000-\u001f\u007f]{1,128}$/;
/** Entries read from msg.detections or msg.tracks; a longer array is refused before any work is spent on it. */
export const MAX_LIST_LENGTH = 10_000;
/** Characters kept of a label. */
const MAX_LABEL = 100;

/** The `type` of the events zone-analytics and sort-track send on their second outputs. */
export const PIPELINE_EVENT_TYPES: ReadonlySet<string> = new Set(['enter', 'exit', 'cross', 'alert', 'staff', 'started', 'ended']);

/**
 * The topic of a pipeline event: `<camera>/lines/<line>/in|out`, `<camera>/zones/<zone>/enter|exit|alert`,
 * `<camera>/tracks/started|ended` (sort-track) or `<camera>/staff`.
 */
export function eventTopic(event: { cameraId: unknown; type: unknown; lineId?: unknown; zoneId?: unknown; direction?: unknown }): string {
  const where =
    event.type === 'cross'
      ? `lines/${String(event.lineId)}/${String(event.direction)}`
      : event.zoneId !== undefined
        ? `zones/${String(event.zoneId)}/${String(event.type)}`
        : event.type === 'started' || event.type === 'ended'
          ? `tracks/${event.type}`
          : String(event.type);
  return `${String(event.cameraId)}/${where}`;
}

/** A message that breaks these rules: the node reports it for Catch nodes and carries on with the next. */
export class MessageError extends Error {}

/** The parts of a message our nodes read to know which camera it belongs to. */
export interface CameraMessage {
  frame?: unknown;
  cameraId?: unknown;
  topic?: unknown;
}

/** A value in an error message: short, and never failing (BigInt, prototype-less objects, deep nesting). */
export function describeValue(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? `an array of ${value.length}` : 'an object';
}

/** A camera id as messages may carry it: a string of 1 to 128 printable characters. */
export function checkCameraId(value: unknown, property: string): string {
  if (typeof value !== 'string' || !CAMERA_ID.test(value)) {
    throw new MessageError(`${property} must be a camera id (1 to 128 printable characters), got ${describeValue(value)}`);
  }
  return value;
}

const wholeIn = (value: unknown, min: number, max: number): value is number => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;

/**
 * A frame reference as camera-source sends it: camera id, seq and dropped whole numbers from 0, a finite
 * timestamp (ms since the epoch), width and height whole numbers from 1 to MAX_FRAME_SIDE.
 */
export function readFrameRef(value: unknown): FrameRef {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MessageError(`msg.frame must be the frame reference of a camera-source node, got ${describeValue(value)}`);
  const ref = value as Record<string, unknown>;
  const cameraId = checkCameraId(ref.cameraId, 'msg.frame.cameraId');
  if (!wholeIn(ref.seq, 0, Number.MAX_SAFE_INTEGER)) throw new MessageError(`msg.frame.seq must be a whole number from 0, got ${describeValue(ref.seq)}`);
  if (typeof ref.timestamp !== 'number' || !(Math.abs(ref.timestamp) <= 8.64e15)) throw new MessageError(`msg.frame.timestamp must be a time in ms since 1970, got ${describeValue(ref.timestamp)}`);
  for (const side of ['width', 'height'] as const) {
    if (!wholeIn(ref[side], 1, MAX_FRAME_SIDE)) throw new MessageError(`msg.frame.${side} must be a whole number of pixels from 1 to ${MAX_FRAME_SIDE}, got ${describeValue(ref[side])}`);
  }
  if ((ref.width as number) * (ref.height as number) > MAX_FRAME_PIXELS) {
    throw new MessageError(`msg.frame is ${ref.width}x${ref.height}; frames of at most ${MAX_FRAME_PIXELS / 1e6} megapixels are accepted`);
  }
  const dropped = ref.dropped === undefined ? 0 : ref.dropped;
  if (!wholeIn(dropped, 0, Number.MAX_SAFE_INTEGER)) throw new MessageError(`msg.frame.dropped must be a whole number from 0, got ${describeValue(ref.dropped)}`);
  return { cameraId, seq: ref.seq, timestamp: ref.timestamp, width: ref.width as number, height: ref.height as number, dropped };
}

/** The camera a message belongs to: its frame's camera, else msg.cameraId, else msg.topic, else "default"; each checked. */
export function cameraIdOf(msg: CameraMessage): string {
  if (msg.frame !== undefined) return readFrameRef(msg.frame).cameraId;
  if (msg.cameraId !== undefined) return checkCameraId(msg.cameraId, 'msg.cameraId');
  if (typeof msg.topic === 'string' && msg.topic !== '') return checkCameraId(msg.topic, 'msg.topic');
  return 'default';
}

/** An array property of at most MAX_LIST_LENGTH entries. */
export function readList(value: unknown, property: string, from: string): unknown[] {
  if (!Array.isArray(value)) throw new MessageError(`${property} must be an array (from ${from}), got ${describeValue(value)}`);
  if (value.length > MAX_LIST_LENGTH) throw new MessageError(`${property} has ${value.length} entries; at most ${MAX_LIST_LENGTH} are accepted`);
  return value;
}

/** Four finite numbers x1 < x2, y1 < y2, or null. */
export function boxOf(value: unknown): Box | null {
  if (!Array.isArray(value) || value.length < 4) return null;
  const [x1, y1, x2, y2] = value as unknown[];
  if (typeof x1 !== 'number' || typeof y1 !== 'number' || typeof x2 !== 'number' || typeof y2 !== 'number') return null;
  if (!Number.isFinite(x1) || !Number.isFinite(y1) || !Number.isFinite(x2) || !Number.isFinite(y2) || !(x2 > x1 && y2 > y1)) return null;
  return [x1, y1, x2, y2];
}

/** A label as a short string, or null for anything else. */
export function labelOf(value: unknown): string | null {
  return typeof value === 'string' ? value.slice(0, MAX_LABEL) : null;
}

/** A track as zone-analytics and heatmap read it. */
export interface TrackInput {
  id: number;
  bbox: Box;
  label: string | null;
  /** Where and when the track was born (sort-track's firstBox and firstSeenAt), when the message gives both. */
  firstSeen?: { bbox: Box; at: number };
}

/**
 * The well-formed tracks of msg.tracks, at most `limit` of them in the order given (a finite numeric id, a box of
 * four finite numbers with area); the others are dropped and counted, never kept.
 */
export function readTracks(value: unknown, limit: number): { tracks: TrackInput[]; dropped: number } {
  const list = readList(value, 'msg.tracks', 'sort-track');
  const tracks: TrackInput[] = [];
  const ids = new Set<number>();
  let dropped = 0;
  for (const entry of list) {
    const track = entry as { id?: unknown; bbox?: unknown; detection?: { label?: unknown } | null; firstBox?: unknown; firstSeenAt?: unknown } | null;
    const bbox = typeof track === 'object' && track !== null ? boxOf(track.bbox) : null;
    const id = track?.id;
    if (!bbox || typeof id !== 'number' || !Number.isFinite(id) || ids.has(id) || tracks.length >= limit) {
      dropped++;
      continue;
    }
    ids.add(id);
    const detection = track!.detection;
    const input: TrackInput = { id, bbox, label: typeof detection === 'object' && detection !== null ? labelOf(detection.label) : null };
    const firstBox = boxOf(track!.firstBox);
    const firstSeenAt = track!.firstSeenAt;
    if (firstBox && typeof firstSeenAt === 'number' && Number.isFinite(firstSeenAt)) input.firstSeen = { bbox: firstBox, at: firstSeenAt };
    tracks.push(input);
  }
  return { tracks, dropped };
}

/** Deeper than this, a value is not something our nodes were sent on purpose: Node-RED's own cloning would overflow. */
export const MAX_DEPTH = 100;

/** Whether a value nests objects and arrays deeper than MAX_DEPTH (checked without recursion). */
export function nestedTooDeep(value: unknown): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  let visited = 0;
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null || Buffer.isBuffer(current) || ArrayBuffer.isView(current)) continue;
    if (depth >= MAX_DEPTH) return true;
    // Wide values are cut short: the depth of what was looked at decides.
    if (++visited > 100_000) return false;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Bytes of JSON a message property may take when it is kept and served again (zones, lines, events). */
const MAX_JSON_BYTES = 1_000_000;

/**
 * A copy of a value as plain JSON (BigInts as strings), for properties the API keeps and serves; refused when it
 * cannot be written as JSON (cycles, too deep) or is larger than a megabyte.
 */
export function plainJson<T>(value: T, property: string): T {
  let text: string;
  try {
    text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  } catch (err) {
    throw new MessageError(`${property} cannot be written as JSON: ${(err as Error).message}`);
  }
  if (text === undefined) throw new MessageError(`${property} cannot be written as JSON`);
  if (text.length > MAX_JSON_BYTES) throw new MessageError(`${property} takes ${text.length} bytes as JSON; at most ${MAX_JSON_BYTES} are accepted`);
  return JSON.parse(text) as T;
}
