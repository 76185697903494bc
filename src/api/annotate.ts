import type { Point } from '../analytics/geometry';
import type { LineStats, ZoneGeometry, ZoneStats } from '../analytics/zones';
import { blurRegions, clampBox, overlaySvg } from '../imaging/image';
import type { Box, RgbImage } from '../types';

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

const ZONE_COLOURS = ['#2e86de', '#10ac84', '#ee5253', '#ff9f43', '#8854d0'];
const LINE_COLOUR = '#feca57';
const TRACK_COLOUR = '#50dc50';

const finite = (p: readonly number[]) => Number.isFinite(p[0]) && Number.isFinite(p[1]);
const coords = (points: readonly (readonly [number, number])[]) => points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The drawing of an overlay as SVG for a width x height frame: zones with counts, lines with in/out, boxes, ids, trails. */
export function overlayDrawing(overlay: Overlay, width: number, height: number): string {
  const size = Math.max(11, Math.round(width / 60));
  const stroke = Math.max(1, Math.round(width / 640));
  const label = (text: string, x: number, y: number, colour: string) =>
    `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" fill="${colour}" stroke="#000" stroke-width="${stroke + 1}" paint-order="stroke">${escapeXml(text)}</text>`;
  const parts: string[] = [];
  (overlay.zones ?? []).forEach((zone, i) => {
    const polygon = zone.polygon.filter(finite);
    if (polygon.length < 3) return;
    const colour = ZONE_COLOURS[i % ZONE_COLOURS.length];
    parts.push(`<polygon points="${coords(polygon)}" fill="none" stroke="${colour}" stroke-width="${stroke + 1}"/>`);
    parts.push(label(`${zone.name ?? zone.id}: ${zone.currentCount ?? 0}`, polygon[0][0] + 6, polygon[0][1] + size + 4, colour));
  });
  for (const line of overlay.lines ?? []) {
    if (!finite(line.from) || !finite(line.to)) continue;
    parts.push(`<line x1="${line.from[0]}" y1="${line.from[1]}" x2="${line.to[0]}" y2="${line.to[1]}" stroke="${LINE_COLOUR}" stroke-width="${stroke + 1}"/>`);
    parts.push(`<circle cx="${line.to[0]}" cy="${line.to[1]}" r="${3 * stroke}" fill="${LINE_COLOUR}"/>`);
    parts.push(label(`${line.name ?? line.id} in ${line.in ?? 0} out ${line.out ?? 0}`, line.to[0] + 6, line.to[1], LINE_COLOUR));
  }
  for (const track of overlay.tracks ?? []) {
    const trail = (track.trail ?? []).filter(finite);
    if (trail.length > 1) parts.push(`<polyline points="${coords(trail)}" fill="none" stroke="${TRACK_COLOUR}" stroke-width="${stroke}"/>`);
    const rect = clampBox(track.bbox, width, height);
    if (!rect) continue;
    const [x1, y1, x2, y2] = rect;
    // Inset by half the stroke, so the outline covers whole pixels at the box's edges.
    const inset = stroke / 2;
    parts.push(`<rect x="${x1 + inset}" y="${y1 + inset}" width="${x2 - x1 - stroke}" height="${y2 - y1 - stroke}" fill="none" stroke="${TRACK_COLOUR}" stroke-width="${stroke}"/>`);
    parts.push(label(`#${track.id}`, x1, Math.max(size, y1 - 4), TRACK_COLOUR));
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="${size}">` +
    `${parts.join('')}</svg>`
  );
}

/** The overlay of a camera's latest analytics: its zones with their present counts, its lines with their totals. */
export function analyticsOverlay(input: {
  tracks: Overlay['tracks'];
  detections: Overlay['detections'];
  zones: readonly ZoneStats[];
  lines: readonly LineStats[];
  geometry: ZoneGeometry | null;
}): Overlay {
  return {
    tracks: input.tracks,
    detections: input.detections,
    zones: (input.geometry?.zones ?? []).map((z) => ({ ...z, currentCount: input.zones.find((s) => s.id === z.id)?.currentCount ?? 0 })),
    lines: (input.geometry?.lines ?? []).map((l) => {
      const counts = input.lines.find((s) => s.id === l.id);
      return { ...l, in: counts?.in ?? 0, out: counts?.out ?? 0 };
    }),
  };
}

/** The frame with zones (and their counts), lines (in/out), boxes, ids and trails drawn, as JPEG. */
export async function annotateFrame(frame: RgbImage, overlay: Overlay, options: AnnotateOptions): Promise<Buffer> {
  const people = [...(overlay.detections ?? []), ...(overlay.tracks ?? [])].map((d) => d.bbox);
  const base = options.privacy && people.length > 0 ? await blurRegions(frame, people) : frame;
  return overlaySvg(base, overlayDrawing(overlay, frame.width, frame.height), options.quality);
}
