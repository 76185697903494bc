#!/usr/bin/env node
'use strict';
// Runs the tracker on every MOT15 training sequence and compares it with the reference SORT's output, for
// max_age 1 (reference/) and 30 (reference-age30/), up to a relabelling of ids. Needs ../shared/data/mot15.
const fs = require('node:fs');
const path = require('node:path');
const { SortTracker } = require('../dist/src/tracking/sort');
const { detectionsByFrame, formatMotRow, parseMot } = require('../dist/src/tracking/mot');
const { compareMotOutputs } = require('../dist/src/tracking/compare');

const data = process.env.MOT15_DIR || path.resolve(__dirname, '..', '..', 'shared', 'data', 'mot15');
if (!fs.existsSync(path.join(data, 'train'))) {
  console.error(`check-mot-reference: ${data}/train not found (set MOT15_DIR)`);
  process.exit(2);
}

/** Frames and boxes of the reference at full precision (reference-full/, max_age 1), as exact keys. */
function fullPrecisionKeys(sequence) {
  const file = path.join(data, 'reference-full', `${sequence}.txt`);
  if (!fs.existsSync(file)) return null;
  return new Set(fs.readFileSync(file, 'utf8').trim().split('\n').map((line) => {
    const [frame, , ...box] = line.split(',');
    return `${frame}:${box.map(Number).join(',')}`;
  }));
}

let failed = 0;
for (const [maxAge, folder] of [[1, 'reference'], [30, 'reference-age30']]) {
  for (const sequence of fs.readdirSync(path.join(data, 'train')).sort()) {
    const frames = detectionsByFrame(parseMot(fs.readFileSync(path.join(data, 'train', sequence, 'det', 'det.txt'), 'utf8')));
    const tracker = new SortTracker({ maxAge, minHits: 3, iouThreshold: 0.3 });
    const lines = [];
    const exact = [];
    for (let frame = 1; frame < frames.length; frame++) {
      for (const t of tracker.update(frames[frame]).tracks) {
        lines.push(formatMotRow(frame, t.id, t.bbox));
        exact.push(`${frame}:${t.bbox.join(',')}`);
      }
    }
    const result = compareMotOutputs(lines.join('\n'), fs.readFileSync(path.join(data, folder, `${sequence}.txt`), 'utf8'));
    const full = maxAge === 1 ? fullPrecisionKeys(sequence) : null;
    const bitIdentical = full && exact.length === full.size && exact.every((key) => full.has(key));
    if (full && !bitIdentical) result.problems.push('boxes differ from reference-full at full precision');
    const verdict = !result.equal || (full && !bitIdentical) ? 'DIFFERENT' : full ? 'identical, bit for bit' : 'identical at 2 decimals';
    console.log(`max_age ${String(maxAge).padStart(2)}  ${sequence.padEnd(16)} ${String(result.rows).padStart(6)} rows  ${verdict}`);
    for (const problem of result.problems) console.log(`    ${problem}`);
    if (verdict === 'DIFFERENT') failed++;
  }
}
console.log(failed === 0 ? 'all 22 runs reproduce the reference' : `${failed} runs differ from the reference`);
process.exit(failed === 0 ? 0 : 1);
