import type { ZoneGeometry, ZoneStats, LineStats } from '../analytics/zones';
import type { CameraDescription } from '../fleet/state';
import { boxOf, cameraIdOf, checkCameraId, describeValue, MessageError, plainJson, readFrameRef, readList } from '../messages';
import type { Box, FrameRef } from '../types';

/** What an api-out node keeps of the messages of one camera. */
export interface CameraView {
  id: string;
  frame: FrameRef | null;
  /** Frames that reached the API through the pipeline. */
  framesProcessed: number;
  /** When the last message of this camera arrived (ms since the epoch). */
  updatedAt: number;
  detections: { bbox: Box }[];
  tracks: { id: number; bbox: Box; trail?: [number, number][] }[];
  zones: ZoneStats[];
  lines: LineStats[];
  geometry: ZoneGeometry | null;
  occupancy: number | null;
  heatmap: { image: Buffer; format: 'png' | 'jpeg'; at: number; showsPeople: boolean } | null;
  /** A camera of another instance, as fleet-aggregate reports it; null for this instance's own cameras. */
  remote: RemoteCamera | null;
  /** The latest annotated frame its worker shared, for a remote camera. */
  remoteFrame: { image: Buffer; at: number } | null;
}

/** What fleet-aggregate says of a camera on another instance (msg.fleet). */
export interface RemoteCamera extends CameraDescription {
  aggregator: string;
  instance: string;
  online: boolean;
  framesProcessed: number;
  activeTracks: number;
  publishedAt: number;
}

/** The message fields the API reads; each is optional, so any stage of the pipeline can feed it. */
export interface ApiInput {
  frame?: unknown;
  cameraId?: unknown;
  topic?: unknown;
  payload?: unknown;
  detections?: unknown;
  tracks?: unknown;
  zones?: unknown;
  lines?: unknown;
  zoneGeometry?: unknown;
  occupancy?: unknown;
  heatmap?: { cameraId?: unknown; format?: unknown; showsPeople?: unknown };
  fleet?: unknown;
}

/** The well-formed boxes of a list of detections. */
function boxesOf(list: unknown[]): { bbox: Box }[] {
  return list.flatMap((d) => {
    const bbox = typeof d === 'object' && d !== null ? boxOf((d as { bbox?: unknown }).bbox) : null;
    return bbox ? [{ bbox }] : [];
  });
}

/** Tracks as the annotated frame draws them: a finite id, a box, and a trail of finite points (at most 100). */
export function drawableTracks(list: unknown[]): CameraView['tracks'] {
  return list.flatMap((entry) => {
    if (typeof entry !== 'object' || entry === null) return [];
    const { id, bbox, trail } = entry as { id?: unknown; bbox?: unknown; trail?: unknown };
    const box = boxOf(bbox);
    if (typeof id !== 'number' || !Number.isFinite(id) || !box) return [];
    const points = Array.isArray(trail)
      ? trail.slice(-100).filter((p): p is [number, number] => Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number' && Number.isFinite(p[0]) && Number.isFinite(p[1]))
      : [];
    return [{ id, bbox: box, trail: points.map(([x, y]) => [x, y] as [number, number]) }];
  });
}

const finiteOr = <T>(value: unknown, fallback: T): number | T => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);
const textOr = (value: unknown, fallback: string): string => (typeof value === 'string' ? value.slice(0, 200) : fallback);

/** msg.fleet as fleet-aggregate sends it: the aggregator's node id and the remote camera's figures. */
function readRemote(value: unknown): RemoteCamera {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MessageError(`msg.fleet must be an object (from fleet-aggregate), got ${describeValue(value)}`);
  const f = value as Record<string, unknown>;
  if (typeof f.aggregator !== 'string' || typeof f.instance !== 'string') throw new MessageError('msg.fleet needs the aggregator and instance strings fleet-aggregate sets');
  const detection = typeof f.detection === 'object' && f.detection !== null && !Array.isArray(f.detection) ? plainJson(f.detection as Record<string, unknown>, 'msg.fleet.detection') : null;
  return {
    aggregator: f.aggregator,
    instance: f.instance.slice(0, 200),
    online: f.online !== false,
    name: textOr(f.name, ''),
    state: textOr(f.state, 'unknown'),
    fps: finiteOr(f.fps, 0),
    width: finiteOr(f.width, null),
    height: finiteOr(f.height, null),
    lastFrameAt: finiteOr(f.lastFrameAt, null),
    framesProcessed: finiteOr(f.framesProcessed, 0),
    activeTracks: finiteOr(f.activeTracks, 0),
    detection,
    publishedAt: finiteOr(f.publishedAt, 0),
  };
}

/** The latest state of every camera that sent something; at most `maxCameras` of them (a fleet's API serves thousands). */
export class ApiState {
  private readonly cameras = new Map<string, CameraView>();

  constructor(readonly maxCameras = 10_000) {}

  /** Takes what a message carries; returns its camera id. */
  ingest(msg: ApiInput, now = Date.now()): string {
    const id = msg.heatmap?.cameraId !== undefined ? checkCameraId(msg.heatmap.cameraId, 'msg.heatmap.cameraId') : cameraIdOf(msg);
    let view = this.cameras.get(id);
    if (!view) {
      if (this.cameras.size >= this.maxCameras) throw new Error(`already serving ${this.maxCameras} cameras; camera "${id}" is one too many`);
      view = { id, frame: null, framesProcessed: 0, updatedAt: now, detections: [], tracks: [], zones: [], lines: [], geometry: null, occupancy: null, heatmap: null, remote: null, remoteFrame: null };
      this.cameras.set(id, view);
    }
    view.updatedAt = now;
    if (msg.heatmap && Buffer.isBuffer(msg.payload)) {
      view.heatmap = { image: msg.payload, format: msg.heatmap.format === 'jpeg' ? 'jpeg' : 'png', at: now, showsPeople: msg.heatmap.showsPeople !== false };
      return id;
    }
    // Everything is read before anything is kept, so a refused message leaves the view as it was.
    const remote = msg.fleet === undefined ? undefined : readRemote(msg.fleet);
    if (remote && Buffer.isBuffer(msg.payload) && (msg.fleet as { image?: unknown }).image === 'frame') {
      view.remote = remote;
      view.remoteFrame = { image: msg.payload, at: now };
      return id;
    }
    const frame = msg.frame === undefined ? undefined : readFrameRef(msg.frame);
    const detections = msg.detections === undefined ? undefined : boxesOf(readList(msg.detections, 'msg.detections', 'yolo-detect'));
    const tracks = msg.tracks === undefined ? undefined : drawableTracks(readList(msg.tracks, 'msg.tracks', 'sort-track'));
    const zones = msg.zones === undefined ? undefined : plainJson(readList(msg.zones, 'msg.zones', 'zone-analytics'), 'msg.zones');
    const lines = msg.lines === undefined ? undefined : plainJson(readList(msg.lines, 'msg.lines', 'zone-analytics'), 'msg.lines');
    const geometry = msg.zoneGeometry && typeof msg.zoneGeometry === 'object' ? plainJson(msg.zoneGeometry as ZoneGeometry, 'msg.zoneGeometry') : undefined;
    if (frame) {
      if (frame.seq !== view.frame?.seq) view.framesProcessed++;
      view.frame = frame;
    }
    view.detections = detections ?? view.detections;
    view.tracks = tracks ?? view.tracks;
    view.zones = (zones as ZoneStats[] | undefined) ?? view.zones;
    view.lines = (lines as LineStats[] | undefined) ?? view.lines;
    view.geometry = geometry ?? view.geometry;
    if (typeof msg.occupancy === 'number' && Number.isFinite(msg.occupancy) && msg.occupancy >= 0) view.occupancy = msg.occupancy;
    if (remote) view.remote = remote;
    return id;
  }

  camera(id: string): CameraView | undefined {
    return this.cameras.get(id);
  }

  list(): CameraView[] {
    return [...this.cameras.values()];
  }

  clear(): void {
    this.cameras.clear();
  }
}
