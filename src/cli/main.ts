#!/usr/bin/env node
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Detector } from '../detection/detector';
import { decodeImage } from '../detection/image';
import { DEFAULT_MODEL_PATH, YoloModel } from '../detection/model';
import { parseClassList } from '../detection/classes';

const USAGE = `usage: retail-analytics <command> [options]

commands:
  detect --image FILE [--model FILE] [--conf 0.25] [--iou 0.45] [--classes all|0,2,...]
      prints the detections in FILE as JSON: [{classId, label, score, bbox: [x1, y1, x2, y2]}],
      in the image's pixels, best score first
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
    const { detections } = await new Detector(model).detect(decodeImage(encoded), { confidence, iou, classes, maxDetections: 300 });
    process.stdout.write(`${JSON.stringify(detections, null, 2)}\n`);
  } finally {
    await model.release();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'detect':
        await detect(rest);
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
