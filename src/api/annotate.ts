import type { Point } from '../analytics/geometry';
import type { LineStats, ZoneGeometry, ZoneStats } from '../analytics/zones';
import { blurRegions, clampBox, encodeImage } from '../imaging/image';
import { Canvas, GlyphCache, parseColour } from '../imaging/raster';
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
const glyphs = new GlyphCache();

interface Label {
  text: string;
  x: number;
  y: number;
  colour: string;
}

/**
 * Draws an overlay into a frame's pixels: zones with counts, lines with in/out, boxes, ids and trails; the labels
 * last, over everything.
 */
export async function drawOverlay(canvas: Canvas, overlay: Overlay): Promise<void> {
  const { width, height } = canvas;
  const size = Math.max(11, Math.round(width / 60));
  const stroke = Math.max(1, Math.round(width / 640));
  const labels: Label[] = [];
  (overlay.zones ?? []).forEach((zone, i) => {
    const polygon = zone.polygon.filter(finite);
    if (polygon.length < 3) return;
    const colour = ZONE_COLOURS[i % ZONE_COLOURS.length];
    canvas.polyline(polygon, stroke + 1, parseColour(colour), true);
    labels.push({ text: `${zone.name ?? zone.id}: ${zone.currentCount ?? 0}`, x: polygon[0][0] + 6, y: polygon[0][1] + size + 4, colour });
  });
  for (const line of overlay.lines ?? []) {
    if (!finite(line.from) || !finite(line.to)) continue;
    canvas.line(line.from[0], line.from[1], line.to[0], line.to[1], stroke + 1, parseColour(LINE_COLOUR));
    canvas.disc(line.to[0], line.to[1], 3 * stroke, parseColour(LINE_COLOUR));
    labels.push({ text: `${line.name ?? line.id} in ${line.in ?? 0} out ${line.out ?? 0}`, x: line.to[0] + 6, y: line.to[1], colour: LINE_COLOUR });
  }
  for (const track of overlay.tracks ?? []) {
    canvas.polyline((track.trail ?? []).filter(finite), stroke, parseColour(TRACK_COLOUR));
    const rect = clampBox(track.bbox, width, height);
    if (!rect) continue;
    canvas.rectOutline(...rect, stroke, parseColour(TRACK_COLOUR));
    labels.push({ text: `#${track.id}`, x: rect[0], y: Math.max(size, rect[1] - 4), colour: TRACK_COLOUR });
  }
  const outline = stroke + 1;
  for (const colour of new Set(labels.map((l) => l.colour))) {
    await glyphs.prepare(labels.filter((l) => l.colour === colour).map((l) => l.text), size, colour, outline);
  }
  for (const { text, x, y, colour } of labels) canvas.text(glyphs, text, x, y, size, colour, outline);
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

/**
 * Pixel buffers to draw on, by size, used again once their JPEG is made: every viewed frame of every camera
 * needs one, and a new megabyte-sized buffer each time is garbage the main thread spends its time collecting.
 */
const canvases = new Map<number, Uint8Array[]>();

/** Buffers kept per size: more than the frames being encoded at once by all cameras of a box. */
const CANVASES_KEPT = 16;

/** The frame with zones (and their counts), lines (in/out), boxes, ids and trails drawn, as JPEG. */
export async function annotateFrame(frame: RgbImage, overlay: Overlay, options: AnnotateOptions): Promise<Buffer> {
  const people = [...(overlay.detections ?? []), ...(overlay.tracks ?? [])].map((d) => d.bbox);
  if (options.privacy && people.length > 0) {
    const blurred = await blurRegions(frame, people);
    await drawOverlay(new Canvas(blurred.pixels, blurred.width, blurred.height), overlay);
    return encodeImage(blurred, 'jpeg', options.quality);
  }
  // Drawn on a copy: the frame itself may still be read by other nodes (the frame store).
  const spare = canvases.get(frame.pixels.length)?.pop();
  const pixels = spare ?? new Uint8Array(frame.pixels.length);
  pixels.set(frame.pixels);
  try {
    await drawOverlay(new Canvas(pixels, frame.width, frame.height), overlay);
    return await encodeImage({ ...frame, pixels }, 'jpeg', options.quality);
  } finally {
    const kept = canvases.get(pixels.length) ?? [];
    if (kept.length < CANVASES_KEPT) kept.push(pixels);
    canvases.set(pixels.length, kept);
  }
}
