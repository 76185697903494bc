import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { compareMotOutputs } from '../src/tracking/compare';
import { DARKNET_DATA, ROOT, requireFile, requireModel, requireMot15, requireVtest } from './support';
import { readFileSync } from 'node:fs';

const CLI = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
/** The command line where onnxruntime-node cannot load, as on Alpine (musl). */
const NO_NATIVE = path.join(ROOT, 'test', 'fixtures', 'no-native-onnx.js');
const runWithoutNative = (...args: string[]) => spawnSync(process.execPath, ['--require', NO_NATIVE, CLI, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
type Detection = { label: string; score: number; bbox: number[] };

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

  it('detect --runtime wasm finds what the native runtime finds on every darknet photo (boxes within 1 px, scores within 0.01)', function () {
    requireModel(this);
    requireFile(this, path.join(DARKNET_DATA, 'person.jpg'), "darknet's sample photos");
    this.timeout(180000);
    for (const name of ['person', 'dog', 'horses', 'giraffe', 'kite', 'eagle', 'scream']) {
      const photo = path.join(DARKNET_DATA, `${name}.jpg`);
      const native = run('detect', '--image', photo, '--runtime', 'native');
      const wasm = run('detect', '--image', photo, '--runtime', 'wasm');
      assert.equal(native.status, 0, native.stderr);
      assert.equal(wasm.status, 0, wasm.stderr);
      assert.match(wasm.stderr, /^runtime: WebAssembly\n$/);
      const [a, b] = [JSON.parse(native.stdout) as Detection[], JSON.parse(wasm.stdout) as Detection[]];
      assert.deepEqual(b.map((d) => d.label), a.map((d) => d.label), `${name}: the same objects`);
      for (const [i, d] of a.entries()) {
        assert.ok(Math.abs(d.score - b[i].score) <= 0.01, `${name} #${i}: score ${d.score} against ${b[i].score}`);
        assert.ok(d.bbox.every((v, k) => Math.abs(v - b[i].bbox[k]) <= 1), `${name} #${i}: box ${d.bbox} against ${b[i].bbox}`);
      }
    }
  });

  it('where onnxruntime-node cannot load, --runtime auto falls back to WebAssembly saying why, and --runtime native explains', function () {
    requireModel(this);
    const photo = requireFile(this, path.join(DARKNET_DATA, 'person.jpg'), "darknet's sample photos");
    this.timeout(60000);
    const fallback = runWithoutNative('detect', '--image', photo);
    assert.equal(fallback.status, 0, fallback.stderr);
    assert.match(fallback.stderr, /^runtime: WebAssembly, because onnxruntime-node cannot load here \(Error loading shared library ld-linux-x86-64\.so\.2/);
    assert.deepEqual((JSON.parse(fallback.stdout) as Detection[]).map((d) => d.label), (JSON.parse(run('detect', '--image', photo).stdout) as Detection[]).map((d) => d.label));
    const native = runWithoutNative('detect', '--image', photo, '--runtime', 'native');
    assert.equal(native.status, 1);
    assert.match(native.stderr, /the native ONNX Runtime \(onnxruntime-node\) cannot load here: Error loading shared library .*; the WebAssembly runtime can/);
    const unknown = run('detect', '--image', photo, '--runtime', 'gpu');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /--runtime must be one of auto, native, wasm, got "gpu"/);
  });

  it('track reproduces the reference output of TUD-Campus', function () {
    const data = requireMot15(this);
    const result = run('track', '--det', path.join(data, 'train', 'TUD-Campus', 'det', 'det.txt'), '--max-age', '1');
    assert.equal(result.status, 0, result.stderr);
    const comparison = compareMotOutputs(result.stdout, readFileSync(path.join(data, 'reference', 'TUD-Campus.txt'), 'utf8'));
    assert.ok(comparison.equal, comparison.problems.join('\n'));
    assert.match(result.stdout.split('\n')[0], /^1,\d+,\d+\.\d\d,\d+\.\d\d,\d+\.\d\d,\d+\.\d\d,1,-1,-1,-1$/);
  });

  it('track --tracker bytetrack|ocsort prints what the reference implementations print, line for line', function () {
    const data = requireMot15(this);
    const detections = path.join(data, 'yolov8n', 'TUD-Stadtmitte.txt');
    const bytetrack = run('track', '--det', detections, '--tracker', 'bytetrack', '--track-thresh', '0.6', '--match-thresh', '0.9', '--frame-rate', '25');
    assert.equal(bytetrack.status, 0, bytetrack.stderr);
    assert.equal(bytetrack.stdout, readFileSync(path.join(data, 'reference-bytetrack-t06', 'TUD-Stadtmitte.txt'), 'utf8'));
    const ocsort = run('track', '--det', detections, '--tracker', 'ocsort', '--use-byte');
    assert.equal(ocsort.status, 0, ocsort.stderr);
    assert.equal(ocsort.stdout, readFileSync(path.join(data, 'reference-ocsort-byte', 'TUD-Stadtmitte.txt'), 'utf8'));
  });

  it('run counts a recording with the nodes\' defaults, writes its tracks and detections, and matches tracking its own detections', function () {
    this.timeout(120000);
    requireModel(this);
    const data = requireMot15(this);
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-run-'));
    const [tracks, detections] = [path.join(dir, 'tracks.txt'), path.join(dir, 'det.txt')];
    const layout = path.join(data, 'layouts', 'TUD-Campus.json');
    const result = run('run', '--video', path.join(data, 'video', 'TUD-Campus.mp4'), '--layout', layout, '--tracks-out', tracks, '--detections-out', detections);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr, '', 'no progress line when stderr is not a terminal');
    const report = JSON.parse(result.stdout);
    assert.deepEqual(report.zones.map((z: { id: string }) => z.id), ['middle']);
    assert.deepEqual(report.lines.map((l: { id: string }) => l.id), ['x200', 'x320', 'x450']);
    assert.ok(report.lines[1].in >= 3, 'people walking right cross the middle line');

    const detectionRows = readFileSync(detections, 'utf8').trim().split('\n');
    assert.deepEqual([Number(detectionRows[0].split(',')[0]), Number(detectionRows.at(-1)!.split(',')[0])], [1, 71], 'every frame, numbered from 1');
    assert.ok(detectionRows.every((row) => Number(row.split(',')[6]) > 0.1));
    // The same tracker on the written detections (rounded to 1/100 px) gives the written tracks: run is detection + track + zones.
    const retracked = run('track', '--det', detections, '--tracker', 'hybrid', '--frame-rate', '25');
    const rows = (text: string) => text.trim().split('\n').map((row) => row.split(',').map(Number));
    const written = rows(readFileSync(tracks, 'utf8'));
    const again = rows(retracked.stdout);
    assert.ok(written.length > 200);
    assert.equal(again.length, written.length);
    written.forEach((row, i) => {
      assert.deepEqual(again[i].slice(0, 2), row.slice(0, 2), `row ${i + 1}: frame and id`);
      for (let k = 2; k < 6; k++) assert.ok(Math.abs(again[i][k] - row[k]) < 0.05, `row ${i + 1}: ${again[i]} vs ${row}`);
    });
    // A MOT file holds the boxes tracks were reported at, not where the tracker first saw each person (the hybrid
    // tracker traces that back before its first reported box): counted from each track's first row, `zones` finds
    // the same counters and never more than run.
    const recounted = JSON.parse(run('zones', '--tracks', tracks, '--config', layout, '--fps', '25').stdout);
    const countsOf = (r: { zones: { totalEntries: number; totalExits: number }[]; lines: { in: number; out: number }[] }) => [
      ...r.zones.flatMap((z) => [z.totalEntries, z.totalExits]),
      ...r.lines.flatMap((l) => [l.in, l.out]),
    ];
    assert.deepEqual(recounted.lines.map((l: { id: string }) => l.id), ['x200', 'x320', 'x450']);
    const counted = countsOf(report);
    countsOf(recounted).forEach((n, k) => assert.ok(n <= counted[k], `counter ${k}: ${n} recounted, ${counted[k]} by run`));
  });

  it('run --detect-fps detects that many frames per second of video, as yolo-detect would', function () {
    this.timeout(120000);
    requireModel(this);
    const data = requireMot15(this);
    const detections = path.join(mkdtempSync(path.join(tmpdir(), 'cli-rate-')), 'det.txt');
    const result = run('run', '--video', path.join(data, 'video', 'TUD-Campus.mp4'), '--detect-fps', '5', '--detections-out', detections);
    assert.equal(result.status, 0, result.stderr);
    const frames = [...new Set(readFileSync(detections, 'utf8').trim().split('\n').map((row) => Number(row.split(',')[0])))];
    assert.deepEqual(frames.slice(0, 4), [1, 6, 11, 16], 'every fifth frame of a 25 fps video');
    assert.equal(run('run', '--video', '/nonexistent.mp4', '--detect-fps', '-1').status, 2);
  });

  it('run refuses what it cannot use, saying why', () => {
    assert.match(run('run').stderr, /run needs --video FILE/);
    const missing = run('run', '--video', '/nonexistent.mp4');
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /cannot read video \/nonexistent.mp4/);
    const wrongSetting = run('run', '--video', '/nonexistent.mp4', '--tracker', 'sort', '--track-thresh', '0.5');
    assert.equal(wrongSetting.status, 2);
    assert.match(wrongSetting.stderr, /--track-thresh is a setting of bytetrack and hybrid, not of sort/);
    const badValue = run('track', '--det', 'x.txt', '--tracker', 'bytetrack', '--track-thresh', '0.05');
    assert.equal(badValue.status, 2);
    assert.match(badValue.stderr, /trackThresh must be above 0.1/);
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

  it('optimize-model makes the fitted int8 model of a recording where yolo-model finds it, and prints its check', function () {
    requireModel(this);
    const video = requireVtest(this);
    const dir = mkdtempSync(path.join(tmpdir(), 'optimize-'));
    const result = run('optimize-model', '--video', video, '--dir', dir);
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    assert.equal(path.dirname(report.file), path.join(dir, 'int8'));
    assert.deepEqual([report.input, report.precision, report.check.passed], ['640x480', 'int8', true]);
    assert.ok(report.check.compared >= 50 && report.check.agreed / report.check.compared >= 0.95, report.check.tally);
    assert.ok(report.msPerFrame.original > 0 && report.msPerFrame.optimized > 0);
    const badSize = run('optimize-model', '--video', video, '--size', 'big');
    assert.equal(badSize.status, 2);
    assert.match(badSize.stderr, /--size must be fit or WIDTHxHEIGHT, got "big"/);
    const live = run('optimize-model', '--video', 'rtsp://camera.invalid/stream');
    assert.equal(live.status, 2);
    assert.match(live.stderr, /--video must be a recording/);
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
    const unknownModel = run('fetch-model', '--model', 'yolov9');
    assert.equal(unknownModel.status, 2);
    assert.match(unknownModel.stderr, /--model must be one of yolov8n, yolov8s, yolov8m, got "yolov9"/);
    const unknownOption = run('eval', '--gt', 'a', '--res', 'b', '--fast');
    assert.equal(unknownOption.status, 2);
  });
});
