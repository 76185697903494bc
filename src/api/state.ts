import type { ZoneGeometry, ZoneStats, LineStats } from '../analytics/zones';
import { cameraIdOf } from '../messages';
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
  frame?: FrameRef;
  cameraId?: string;
  topic?: unknown;
  payload?: unknown;
  detections?: unknown;
  tracks?: unknown;
  zones?: unknown;
  lines?: unknown;
  zoneGeometry?: unknown;
  occupancy?: unknown;
  heatmap?: { cameraId?: string; format?: string; showsPeople?: boolean };
}

const array = <T>(value: unknown): T[] | undefined => (Array.isArray(value) ? (value as T[]) : undefined);

/** The latest state of every camera that sent something; at most `maxCameras` of them. */
export class ApiState {
  private readonly cameras = new Map<string, CameraView>();

  constructor(readonly maxCameras = 256) {}

  /** Takes what a message carries; returns its camera id. */
  ingest(msg: ApiInput, now = Date.now()): string {
    const id = msg.heatmap?.cameraId ?? cameraIdOf(msg);
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
    if (msg.frame && typeof msg.frame.seq === 'number') {
      if (msg.frame.seq !== view.frame?.seq) view.framesProcessed++;
      view.frame = { ...msg.frame };
    }
    view.detections = array(msg.detections) ?? view.detections;
    view.tracks = array(msg.tracks) ?? view.tracks;
    view.zones = array(msg.zones) ?? view.zones;
    view.lines = array(msg.lines) ?? view.lines;
    if (msg.zoneGeometry && typeof msg.zoneGeometry === 'object') view.geometry = msg.zoneGeometry as ZoneGeometry;
    if (typeof msg.occupancy === 'number') view.occupancy = msg.occupancy;
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
