import type { Point } from '../analytics/geometry';
import { opencv, withMat } from '../opencv';
import { blurRegions, clampBox } from '../privacy';
import type { BgrImage, Box } from '../types';

export interface Overlay {
  tracks?: { id: number; bbox: Box; trail?: [number, number][] }[];
  /** Every detected box: blurred in privacy mode, tracked or not. */
  detections?: { bbox: Box }[];
  zones?: { id: string; name?: string; polygon: Point[]; currentCount?: number }[];
  lines?: { id: string; name?: string; from: Point; to: Point; in?: number; out?: number }[];
}

export interface AnnotateOptions {
  /** JPEG quality 1..100. */
  quality: number;
  /** Blur every detected person before anything is drawn. */
  privacy: boolean;
}

type Bgr = [number, number, number];
const ZONE_COLOURS: Bgr[] = [[222, 134, 46], [132, 172, 16], [83, 82, 238], [67, 159, 255], [208, 84, 136]];
const LINE_COLOUR: Bgr = [87, 202, 254];
const TRACK_COLOUR: Bgr = [80, 220, 80];

/** The frame with zones (and their counts), lines (in/out), boxes, ids and trails drawn, as JPEG. */
export function annotateFrame(frame: BgrImage, overlay: Overlay, options: AnnotateOptions): Buffer {
  const cv = opencv();
  const { pixels, width, height } = frame;
  const mat = new cv.Mat(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.length), height, width, cv.CV_8UC3);
  return withMat(mat, (m) => {
    if (options.privacy) blurRegions(m, [...(overlay.detections ?? []), ...(overlay.tracks ?? [])].map((d) => d.bbox));
    const scale = Math.max(0.4, width / 1600);
    const thickness = Math.max(1, Math.round(width / 640));
    const vec = ([b, g, r]: Bgr) => new cv.Vec3(b, g, r);
    const point = ([x, y]: readonly [number, number]) => new cv.Point2(Math.round(x), Math.round(y));
    const label = (text: string, at: [number, number], colour: Bgr) => {
      m.putText(text, point([at[0] + 1, at[1] + 1]), cv.FONT_HERSHEY_SIMPLEX, scale, vec([0, 0, 0]), thickness + 1, cv.LINE_AA);
      m.putText(text, point(at), cv.FONT_HERSHEY_SIMPLEX, scale, vec(colour), thickness, cv.LINE_AA);
    };
    (overlay.zones ?? []).forEach((zone, i) => {
      if (zone.polygon.length < 3) return;
      const colour = ZONE_COLOURS[i % ZONE_COLOURS.length];
      m.drawPolylines([zone.polygon.map(point)], true, vec(colour), thickness + 1, cv.LINE_AA);
      const [x, y] = zone.polygon[0];
      label(`${zone.name ?? zone.id}: ${zone.currentCount ?? 0}`, [x + 6, y + 22 * scale + 6], colour);
    });
    for (const line of overlay.lines ?? []) {
      m.drawLine(point(line.from), point(line.to), vec(LINE_COLOUR), thickness + 1, cv.LINE_AA);
      m.drawCircle(point(line.to), 3 * thickness, vec(LINE_COLOUR), -1);
      label(`${line.name ?? line.id} in ${line.in ?? 0} out ${line.out ?? 0}`, [line.to[0] + 6, line.to[1]], LINE_COLOUR);
    }
    for (const track of overlay.tracks ?? []) {
      const trail = (track.trail ?? []).filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
      if (trail.length > 1) m.drawPolylines([trail.map(point)], false, vec(TRACK_COLOUR), thickness, cv.LINE_AA);
      const rect = clampBox(track.bbox, width, height);
      if (!rect) continue;
      m.drawRectangle(point([rect[0], rect[1]]), point([rect[2], rect[3]]), vec(TRACK_COLOUR), thickness, cv.LINE_AA);
      label(`#${track.id}`, [rect[0], Math.max(12, rect[1] - 4)], TRACK_COLOUR);
    }
    return cv.imencode('.jpg', m, [cv.IMWRITE_JPEG_QUALITY, Math.round(options.quality)]);
  });
}
