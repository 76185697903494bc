import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { compareMotOutputs } from '../src/tracking/compare';
import { DARKNET_DATA, ROOT, requireFile, requireModel, requireMot15 } from './support';
import { readFileSync } from 'node:fs';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });

describe('retail-analytics command line', () => {
  it('detect prints the detections of a photo as JSON, best first', function () {
    requireModel(this);
    const photo = requireFile(this, path.join(DARKNET_DATA, 'person.jpg'), "darknet's sample photos");
    const result = run('detect', '--image', photo, '--conf', '0.25', '--classes', 'person,dog');
    assert.equal(result.status, 0, result.stderr);
    const detections = JSON.parse(result.stdout);
    assert.deepEqual(detections.map((d: { label: string }) => d.label), ['person', 'dog']);
    assert.equal(detections[0].bbox.length, 4);
  });

  it('track reproduces the reference output of TUD-Campus', function () {
    const data = requireMot15(this);
    const result = run('track', '--det', path.join(data, 'train', 'TUD-Campus', 'det', 'det.txt'), '--max-age', '1');
    assert.equal(result.status, 0, result.stderr);
    const comparison = compareMotOutputs(result.stdout, readFileSync(path.join(data, 'reference', 'TUD-Campus.txt'), 'utf8'));
    assert.ok(comparison.equal, comparison.problems.join('\n'));
    assert.match(result.stdout.split('\n')[0], /^1,\d+,\d+\.\d\d,\d+\.\d\d,\d+\.\d\d,\d+\.\d\d,1,-1,-1,-1$/);
  });

  it('eval prints MOTChallenge metrics as JSON', function () {
    const data = requireMot15(this);
    const result = run('eval', '--gt', path.join(data, 'train', 'TUD-Stadtmitte', 'gt', 'gt.txt'), '--res', path.join(data, 'reference', 'TUD-Stadtmitte.txt'));
    assert.equal(result.status, 0, result.stderr);
    const metrics = JSON.parse(result.stdout);
    assert.equal(metrics.MOTA.toFixed(1), '71.7');
    assert.equal(metrics.IDs, 10);
  });

  it('tracks a small hand-written file and evaluates it against itself', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-'));
    const det = path.join(dir, 'det.txt');
    writeFileSync(det, [1, 2, 3, 5].map((f) => `${f},-1,${10 + f},20,30,60,0.9,-1,-1,-1`).join('\n'));
    const tracked = run('track', '--det', det, '--min-hits', '1');
    assert.equal(tracked.status, 0, tracked.stderr);
    const lines = tracked.stdout.trim().split('\n');
    assert.deepEqual(lines.map((l) => l.split(',').slice(0, 2).join(',')), ['1,1', '2,1', '3,1', '5,1'], 'frame 4 is empty but still run');
    const res = path.join(dir, 'res.txt');
    writeFileSync(res, tracked.stdout);
    const metrics = JSON.parse(run('eval', '--gt', res, '--res', res).stdout);
    assert.deepEqual([metrics.MOTA, metrics.IDF1], [100, 100]);
  });

  it('explains usage errors with exit code 2 and other failures with exit code 1', () => {
    const nothing = run();
    assert.equal(nothing.status, 2);
    assert.match(nothing.stdout, /usage: retail-analytics/);
    const unknown = run('dance');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command "dance"/);
    const badNumber = run('track', '--det', 'x.txt', '--max-age', 'many');
    assert.equal(badNumber.status, 2);
    assert.match(badNumber.stderr, /--max-age must be a number/);
    const missing = run('track', '--det', '/nonexistent/det.txt');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read detections \/nonexistent\/det.txt/);
    const unknownOption = run('eval', '--gt', 'a', '--res', 'b', '--fast');
    assert.equal(unknownOption.status, 2);
  });
});
