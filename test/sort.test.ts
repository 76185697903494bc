import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CameraTrackers } from '../src/tracking/camera-trackers';
import { compareMotOutputs } from '../src/tracking/compare';
import { detectionsByFrame, formatMotRow, parseMot } from '../src/tracking/mot';
import { SortTracker } from '../src/tracking/sort';
import { describeTrack, type DetectionInput } from '../src/tracking/track';
import type { Box } from '../src/types';
import { requireMot15 } from './support';

const person = (x: number, y: number, w = 40, h = 100, score = 0.9): DetectionInput => ({ bbox: [x, y, x + w, y + h], score, classId: 0, label: 'person' });

function runSequence(data: string, sequence: string, maxAge: number): string {
  const frames = detectionsByFrame(parseMot(readFileSync(path.join(data, 'train', sequence, 'det', 'det.txt'), 'utf8')));
  const tracker = new SortTracker({ maxAge, minHits: 3, iouThreshold: 0.3 });
  const lines: string[] = [];
  for (let frame = 1; frame < frames.length; frame++) {
    for (const t of tracker.update(frames[frame]).tracks) lines.push(formatMotRow(frame, t.id, t.topLeftSize()));
  }
  return lines.join('\n');
}

describe('SORT against the reference implementation (MOT15)', () => {
  for (const sequence of ['TUD-Campus', 'TUD-Stadtmitte', 'KITTI-17', 'ETH-Sunnyday']) {
    for (const [maxAge, folder] of [[1, 'reference'], [30, 'reference-age30']] as const) {
      it(`reproduces ${folder}/${sequence} (max_age ${maxAge}) up to id relabelling`, function () {
        const data = requireMot15(this);
        const result = compareMotOutputs(runSequence(data, sequence, maxAge), readFileSync(path.join(data, folder, `${sequence}.txt`), 'utf8'));
        assert.ok(result.rows > 200);
        assert.ok(result.equal, result.problems.join('\n'));
      });
    }
  }

  it('gives bit-identical boxes to the reference on TUD-Stadtmitte', function () {
    const data = requireMot15(this);
    const expected = new Set(
      readFileSync(path.join(data, 'reference-full', 'TUD-Stadtmitte.txt'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => {
          const [frame, , ...box] = line.split(',');
          return `${frame}:${box.map(Number).join(',')}`;
        }),
    );
    const frames = detectionsByFrame(parseMot(readFileSync(path.join(data, 'train', 'TUD-Stadtmitte', 'det', 'det.txt'), 'utf8')));
    const tracker = new SortTracker({ maxAge: 1 });
    let rows = 0;
    for (let frame = 1; frame < frames.length; frame++) {
      for (const t of tracker.update(frames[frame]).tracks) {
        rows++;
        assert.ok(expected.has(`${frame}:${t.bbox.join(',')}`), `frame ${frame}: ${t.bbox} differs from the reference`);
      }
    }
    assert.equal(rows, expected.size);
  });

  it('catches a tracker that differs: the comparison is not vacuous', function () {
    const data = requireMot15(this);
    const reference = readFileSync(path.join(data, 'reference', 'TUD-Campus.txt'), 'utf8');
    assert.equal(compareMotOutputs(runSequence(data, 'TUD-Campus', 30), reference).equal, false);
    const relabelled = reference.replace(/^(\d+),(\d+),/gm, (_, f, id) => `${f},${Number(id) + 100},`);
    assert.equal(compareMotOutputs(relabelled, reference).equal, true);
    const swapped = reference.replace(/^1,6,/m, '1,5,');
    assert.equal(compareMotOutputs(swapped, reference).equal, false);
  });
});

describe('SortTracker', () => {
  it('reports a track from the first frames, then only once it has min_hits consecutive matches', () => {
    const tracker = new SortTracker({ minHits: 3 });
    const counts = [];
    for (let f = 0; f < 3; f++) counts.push(tracker.update([person(100 + 5 * f, 100)]).tracks.length);
    // A second person appears in frame 4 and is matched in frames 5, 6 and 7: reported from its third match.
    for (let f = 3; f < 8; f++) counts.push(tracker.update([person(100 + 5 * f, 100), person(400, 100)]).tracks.length);
    assert.deepEqual(counts, [1, 1, 1, 1, 1, 1, 2, 2]);
  });

  it('follows a person walking right, estimates the velocity and keeps the id', () => {
    const tracker = new SortTracker();
    let last;
    for (let f = 0; f < 20; f++) last = tracker.update([person(100 + 8 * f, 200)]);
    const track = last!.tracks[0];
    assert.equal(track.id, 1);
    const info = describeTrack(track);
    assert.ok(Math.abs(info.velocity[0] - 8) < 0.5 && Math.abs(info.velocity[1]) < 0.5, `velocity ${info.velocity}`);
    assert.ok(Math.abs(info.bbox[0] - (100 + 8 * 19)) < 2);
    assert.deepEqual(info.detection, { index: 0, score: 0.9, classId: 0, label: 'person' });
    assert.ok(JSON.parse(JSON.stringify(info)).trail.length > 0, 'plain JSON');
  });

  it('numbers ids from 1 in every tracker, so cameras never share state', () => {
    const a = new SortTracker();
    const b = new SortTracker();
    a.update([person(0, 0), person(200, 0)]);
    assert.deepEqual(b.update([person(0, 0)]).tracks.map((t) => t.id), [1]);
    assert.deepEqual(a.update([person(0, 0), person(200, 0)]).tracks.map((t) => t.id).sort(), [1, 2]);
  });

  it('announces started tracks once and ended tracks after max_age unseen frames, with the last time seen', () => {
    const tracker = new SortTracker({ maxAge: 2, minHits: 1 });
    const started = [];
    const ended = [];
    for (let f = 1; f <= 10; f++) {
      const result = tracker.update(f <= 4 ? [person(100 + 4 * f, 100)] : [], f * 100);
      started.push(...result.started.map((t) => [f, t.id]));
      ended.push(...result.ended.map((t) => [f, t.id, t.lastSeenAt]));
    }
    assert.deepEqual(started, [[1, 1]]);
    // Last seen in frame 4; unseen in 5, 6, 7: more than 2 frames, so it ends in frame 7.
    assert.deepEqual(ended, [[7, 1, 400]]);
    assert.equal(tracker.activeTracks.length, 0);
  });

  it('never announces tracks that were not reported', () => {
    const tracker = new SortTracker({ maxAge: 1, minHits: 3 });
    for (let f = 0; f < 5; f++) tracker.update([person(10, 10)]);
    const blip = tracker.update([person(10, 10), person(500, 500)]);
    assert.equal(blip.started.length, 0);
    let endedIds: number[] = [];
    for (let f = 0; f < 3; f++) endedIds = endedIds.concat(tracker.update([person(10, 10)]).ended.map((t) => t.id));
    assert.deepEqual(endedIds, [], 'the one-frame blip disappears silently');
  });

  it('keeps the trail to its length', () => {
    const tracker = new SortTracker({ trailLength: 5 });
    let tracks;
    for (let f = 0; f < 50; f++) tracks = tracker.update([person(10 + f, 10)]).tracks;
    assert.equal(tracks![0].trail.length, 5);
    const [x1, , x2, y2] = tracks![0].bbox;
    assert.deepEqual(tracks![0].trail.at(-1), [(x1 + x2) / 2, y2]);
  });

  it('skips unusable boxes without losing the others or throwing', () => {
    const tracker = new SortTracker({ minHits: 0 });
    const junk = [
      { bbox: [NaN, 0, 10, 10] },
      { bbox: [0, 0, Infinity, 10] },
      { bbox: [5, 5, 5, 20] },
      { bbox: [10, 10, 0, 0] },
      { bbox: [1, 2, 3] },
      { bbox: 'box' },
      {},
      null,
    ] as unknown as DetectionInput[];
    for (let f = 0; f < 3; f++) {
      const result = tracker.update([...junk, person(50, 50)]);
      assert.deepEqual(result.tracks.map((t) => t.detection?.index), [8]);
    }
    assert.equal(tracker.activeTracks.length, 1);
  });

  it('handles empty frames and thousands of boxes in one frame, bounded', () => {
    const tracker = new SortTracker({ maxDetections: 500, maxAge: 3 });
    assert.deepEqual(tracker.update([]).tracks, []);
    const crowd: DetectionInput[] = Array.from({ length: 5000 }, (_, i) => person((i % 100) * 20, Math.floor(i / 100) * 20, 30, 30, i / 5000));
    for (let f = 0; f < 6; f++) tracker.update(crowd);
    assert.ok(tracker.activeTracks.length <= 500 * 4, `${tracker.activeTracks.length} tracks`);
    const best = tracker.update(crowd).tracks.map((t) => t.detection!.index);
    assert.ok(best.every((i) => i >= 4500), 'the best-scoring boxes are the ones kept');
    for (let f = 0; f < 5; f++) tracker.update([]);
    assert.equal(tracker.activeTracks.length, 0);
  });

  it('stops a shrinking box at a positive area instead of predicting an impossible one', () => {
    const tracker = new SortTracker({ minHits: 0, maxAge: 100 });
    // Shrinking fast: left alone, the area velocity would drive the predicted area below zero within frames.
    for (const size of [100, 70, 49, 34]) tracker.update([{ bbox: [200 - size / 2, 200 - size / 2, 200 + size / 2, 200 + size / 2] }]);
    assert.equal(tracker.activeTracks.length, 1);
    for (let f = 0; f < 50; f++) tracker.update([]);
    assert.equal(tracker.activeTracks.length, 1);
    const [x1, y1, x2, y2] = tracker.activeTracks[0].bbox;
    assert.ok(x2 > x1 && y2 > y1 && [x1, y1, x2, y2].every(Number.isFinite), `box ${[x1, y1, x2, y2]}`);
  });

  it('takes unambiguous overlaps directly and solves ambiguous ones optimally', () => {
    const tracker = new SortTracker({ minHits: 0, iouThreshold: 0.3 });
    const a: Box = [0, 0, 100, 100];
    const b: Box = [60, 0, 160, 100];
    tracker.update([{ bbox: a }, { bbox: b }]);
    // One detection between the two tracks, overlapping both above the threshold: it goes to the closer one
    // and a new track starts for nothing else.
    const result = tracker.update([{ bbox: [50, 0, 150, 100] }]);
    assert.deepEqual(result.tracks.map((t) => t.id), [2]);
    assert.equal(tracker.activeTracks.length, 2);
  });

  it('rejects settings SORT cannot work with', () => {
    assert.throws(() => new SortTracker({ maxAge: -1 }), /maxAge/);
    assert.throws(() => new SortTracker({ iouThreshold: 0 }), /iouThreshold/);
    assert.throws(() => new SortTracker({ minHits: 1.5 }), /minHits/);
  });

  it('reset forgets the tracks but never reuses an id', () => {
    const tracker = new SortTracker({ minHits: 0 });
    tracker.update([person(0, 0)]);
    const ended = tracker.reset();
    assert.deepEqual(ended.map((t) => t.id), [1]);
    assert.deepEqual(tracker.update([person(0, 0)]).tracks.map((t) => t.id), [2]);
  });
});

describe('CameraTrackers', () => {
  it('keeps one tracker per camera and resets one or all', () => {
    const trackers = new CameraTrackers({ algorithm: 'sort', minHits: 0 });
    trackers.get('door').update([person(0, 0)]);
    trackers.get('till').update([person(0, 0)]);
    assert.equal(trackers.get('door'), trackers.get('door'));
    assert.deepEqual([...trackers.reset('door').keys()], ['door']);
    assert.equal(trackers.get('till').activeTracks.length, 1);
    assert.deepEqual([...trackers.reset().keys()].sort(), ['door', 'till']);
  });

  it('refuses more cameras than it may hold', () => {
    const trackers = new CameraTrackers({ algorithm: 'sort' }, { maxCameras: 2 });
    trackers.get('a');
    trackers.get('b');
    assert.throws(() => trackers.get('c'), /already tracking 2 cameras/);
  });
});
