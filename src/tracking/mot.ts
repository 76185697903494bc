import type { Box } from '../types';
import type { DetectionInput } from './track';

/** One MOTChallenge row: `frame,id,x,y,w,h,score,...`. */
export interface MotRow {
  frame: number;
  id: number;
  x: number;
  y: number;
  w: number;
  h: number;
  score: number;
}

/** Parses MOTChallenge text (detections, tracker output or ground truth); names the line of any bad row. */
export function parseMot(text: string, source = 'input'): MotRow[] {
  const rows: MotRow[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/[,\s]+/).map(Number);
    if (fields.length < 6 || fields.slice(0, 6).some((v) => !Number.isFinite(v))) {
      throw new Error(`${source}:${n + 1}: expected "frame,id,x,y,w,h[,score,...]", got "${line.slice(0, 80)}"`);
    }
    const [frame, id, x, y, w, h] = fields;
    if (!Number.isInteger(frame) || frame < 1) throw new Error(`${source}:${n + 1}: frame must be a whole number from 1, got ${frame}`);
    rows.push({ frame, id, x, y, w, h, score: fields.length > 6 && Number.isFinite(fields[6]) ? fields[6] : 1 });
  }
  return rows;
}

/** Tracks (id and corners) per frame, indexed 1..lastFrame (index 0 unused), frames without rows empty. */
export function tracksByFrame(rows: readonly MotRow[]): { id: number; bbox: Box }[][] {
  const lastFrame = rows.reduce((max, r) => Math.max(max, r.frame), 0);
  const frames: { id: number; bbox: Box }[][] = Array.from({ length: lastFrame + 1 }, () => []);
  for (const r of rows) frames[r.frame].push({ id: r.id, bbox: [r.x, r.y, r.x + r.w, r.y + r.h] });
  return frames;
}

/** Detections per frame, indexed 1..lastFrame (index 0 unused), frames without rows empty. */
export function detectionsByFrame(rows: readonly MotRow[]): DetectionInput[][] {
  const lastFrame = rows.reduce((max, r) => Math.max(max, r.frame), 0);
  const frames: DetectionInput[][] = Array.from({ length: lastFrame + 1 }, () => []);
  for (const r of rows) {
    const bbox: Box = [r.x, r.y, r.x + r.w, r.y + r.h];
    frames[r.frame].push({ bbox, score: r.score });
  }
  return frames;
}

/**
 * A tracker output row as the MOTChallenge devkit and the reference trackers print it: `[x, y, w, h]` and the
 * score with two decimals (SORT and OC-SORT print 1, ByteTrack the score of the last matched detection).
 */
export function formatMotRow(frame: number, id: number, [x, y, w, h]: readonly number[], score?: number): string {
  return `${frame},${id},${x.toFixed(2)},${y.toFixed(2)},${w.toFixed(2)},${h.toFixed(2)},${score === undefined ? '1' : score.toFixed(2)},-1,-1,-1`;
}

/** A detection row in MOTChallenge det format, `frame,-1,x,y,w,h,score,-1,-1,-1`, frames from 1. */
export function formatDetectionRow(frame: number, box: Box, score: number): string {
  const [x1, y1, x2, y2] = box;
  return `${frame},-1,${x1.toFixed(2)},${y1.toFixed(2)},${(x2 - x1).toFixed(2)},${(y2 - y1).toFixed(2)},${score.toFixed(5)},-1,-1,-1`;
}
