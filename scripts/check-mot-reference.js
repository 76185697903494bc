#!/usr/bin/env node
'use strict';
// Runs each tracker where a reference output exists and compares: SORT on every MOT15 training sequence for
// max_age 1 (reference/) and 30 (reference-age30/), up to a relabelling of ids; ByteTrack and OC-SORT (two
// variants each) on the YOLOv8n detections of TUD-Campus and TUD-Stadtmitte, literally. Where a -full/ twin
// holds the reference's doubles, boxes must be bit-identical. Needs ../shared/data/mot15 (or MOT15_DIR).
const fs = require('node:fs');
const path = require('node:path');
const { createTracker, motRow } = require('../dist/src/tracking/trackers');
const { detectionsByFrame, parseMot } = require('../dist/src/tracking/mot');
const { compareMotOutputs } = require('../dist/src/tracking/compare');

const data = process.env.MOT15_DIR || path.resolve(__dirname, '..', '..', 'shared', 'data', 'mot15');
if (!fs.existsSync(path.join(data, 'train'))) {
  console.error(`check-mot-reference: ${data}/train not found (set MOT15_DIR)`);
  process.exit(2);
}

const TUD = ['TUD-Campus', 'TUD-Stadtmitte'];
const runs = [
  ...[[1, 'reference'], [30, 'reference-age30']].flatMap(([maxAge, folder]) =>
    fs.readdirSync(path.join(data, 'train')).sort().map((sequence) => ({
      folder, sequence, detections: path.join('train', sequence, 'det', 'det.txt'), settings: { algorithm: 'sort', maxAge, minHits: 3, iouThreshold: 0.3 },
      full: maxAge === 1 ? 'reference-full' : null, literal: false,
    }))),
  ...[
    ['reference-bytetrack', { algorithm: 'bytetrack', trackThresh: 0.5, matchThresh: 0.8, trackBuffer: 30, frameRate: 25 }],
    ['reference-bytetrack-t06', { algorithm: 'bytetrack', trackThresh: 0.6, matchThresh: 0.9, trackBuffer: 30, frameRate: 25 }],
    ['reference-ocsort', { algorithm: 'ocsort', useByte: false }],
    ['reference-ocsort-byte', { algorithm: 'ocsort', useByte: true }],
  ].flatMap(([folder, settings]) => TUD.map((sequence) => ({
    folder, sequence, detections: path.join('yolov8n', `${sequence}.txt`), settings, full: `${folder}-full`, literal: true,
  }))),
];

/** Frames and boxes of a -full reference as exact keys, in file order: `frame,id,x1,y1,x2,y2` (SORT) or `frame,id,x,y,w,h,...`. */
function fullPrecisionKeys(folder, sequence) {
  const file = path.join(data, folder, `${sequence}.txt`);
  if (!fs.existsSync(file)) return null;
  return fs.readFileSync(file, 'utf8').trim().split('\n').filter((line) => !line.startsWith('#')).map((line) => {
    const [frame, , ...rest] = line.split(',');
    return `${frame}:${rest.slice(0, 4).map(Number).join(',')}`;
  });
}

let failed = 0;
for (const run of runs) {
  const frames = detectionsByFrame(parseMot(fs.readFileSync(path.join(data, run.detections), 'utf8')));
  const tracker = createTracker(run.settings);
  const lines = [];
  const exact = [];
  for (let frame = 1; frame < frames.length; frame++) {
    for (const t of tracker.update(frames[frame]).tracks) {
      lines.push(motRow(frame, t, run.settings.algorithm));
      exact.push(`${frame}:${(run.settings.algorithm === 'sort' ? t.bbox : t.topLeftSize()).join(',')}`);
    }
  }
  const expected = fs.readFileSync(path.join(data, run.folder, `${run.sequence}.txt`), 'utf8');
  const result = compareMotOutputs(lines.join('\n'), expected);
  const literal = run.literal && `${lines.join('\n')}\n` === expected;
  const full = run.full && fullPrecisionKeys(run.full, run.sequence);
  // Without literal order (SORT's ids and order depend on assignment ties), each box must be among the frame's reference boxes.
  const anyOrder = full && new Set(full);
  const bitIdentical = full && exact.length === full.length && exact.every((key, i) => (run.literal ? key === full[i] : anyOrder.has(key)));
  if (full && !bitIdentical) result.problems.push(`boxes differ from ${run.full} at full precision`);
  if (run.literal && !literal) result.problems.push('the rows differ from the reference file literally (order or ids)');
  const different = !result.equal || (full && !bitIdentical) || (run.literal && !literal);
  const verdict = different ? 'DIFFERENT' : full ? `identical${run.literal ? ', line for line,' : ''} bit for bit` : 'identical at 2 decimals';
  console.log(`${run.folder.padEnd(24)} ${run.sequence.padEnd(16)} ${String(result.rows).padStart(6)} rows  ${verdict}`);
  for (const problem of result.problems) console.log(`    ${problem}`);
  if (different) failed++;
}
console.log(failed === 0 ? `all ${runs.length} runs reproduce their reference` : `${failed} of ${runs.length} runs differ from their reference`);
process.exit(failed === 0 ? 0 : 1);
