import type { ZoneGeometry, ZoneStats, LineStats } from '../analytics/zones';
import { boxOf, cameraIdOf, checkCameraId, plainJson, readFrameRef, readList } from '../messages';
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
}

/** The well-formed boxes of a list of detections. */
function boxesOf(list: unknown[]): { bbox: Box }[] {
  return list.flatMap((d) => {
    const bbox = typeof d === 'object' && d !== null ? boxOf((d as { bbox?: unknown }).bbox) : null;
    return bbox ? [{ bbox }] : [];
  });
}

/** Tracks as the annotated frame draws them: a finite id, a box, and a trail of finite points (at most 100). */
function drawableTracks(list: unknown[]): CameraView['tracks'] {
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

/** The latest state of every camera that sent something; at most `maxCameras` of them. */
export class ApiState {
  private readonly cameras = new Map<string, CameraView>();

  constructor(readonly maxCameras = 256) {}

  /** Takes what a message carries; returns its camera id. */
  ingest(msg: ApiInput, now = Date.now()): string {
    const id = msg.heatmap?.cameraId !== undefined ? checkCameraId(msg.heatmap.cameraId, 'msg.heatmap.cameraId') : cameraIdOf(msg);
    let view = this.cameras.get(id);
    if (!view) {
      if (this.cameras.size >= this.maxCameras) throw new Error(`already serving ${this.maxCameras} cameras; camera "${id}" is one too many`);
      view = { id, frame: null, framesProcessed: 0, updatedAt: now, detections: [], tracks: [], zones: [], lines: [], geometry: null, occupancy: null, heatmap: null };
      this.cameras.set(id, view);
    }
    view.updatedAt = now;
    if (msg.heatmap && Buffer.isBuffer(msg.payload)) {
      view.heatmap = { image: msg.payload, format: msg.heatmap.format === 'jpeg' ? 'jpeg' : 'png', at: now, showsPeople: msg.heatmap.showsPeople !== false };
      return id;
    }
    // Everything is read before anything is kept, so a refused message leaves the view as it was.
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
