import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { APPEARANCE_BINS } from '../src/detection/appearance';
import { assignWithCostLimit } from '../src/tracking/assignment';
import { CameraTrackers } from '../src/tracking/camera-trackers';
import { detectionsByFrame, parseMot } from '../src/tracking/mot';
import { type DetectionInput } from '../src/tracking/track';
import { createTracker, motRow, TRACKER_ALGORITHMS, type TrackerSettings } from '../src/tracking/trackers';
import { requireMot15 } from './support';

const person = (x: number, y: number, score = 0.9, w = 40, h = 100): DetectionInput => ({ bbox: [x, y, x + w, y + h], score, classId: 0, label: 'person' });

/** The rows a tracker prints on a detection file, as `retail-analytics track` prints them. */
function trackFile(detections: string, settings: TrackerSettings): string {
  const frames = detectionsByFrame(parseMot(detections));
  const tracker = createTracker(settings);
  const rows: string[] = [];
  for (let frame = 1; frame < frames.length; frame++) for (const t of tracker.update(frames[frame]).tracks) rows.push(motRow(frame, t, settings.algorithm));
  return `${rows.join('\n')}\n`;
}

const VARIANTS: [string, TrackerSettings][] = [
  ['reference-bytetrack', { algorithm: 'bytetrack', trackThresh: 0.5, matchThresh: 0.8, trackBuffer: 30, frameRate: 25 }],
  ['reference-bytetrack-t06', { algorithm: 'bytetrack', trackThresh: 0.6, matchThresh: 0.9, trackBuffer: 30, frameRate: 25 }],
  ['reference-ocsort', { algorithm: 'ocsort', detThresh: 0.6, maxAge: 30, minHits: 3, iouThreshold: 0.3, deltaT: 3, inertia: 0.2, useByte: false }],
  ['reference-ocsort-byte', { algorithm: 'ocsort', useByte: true }],
];

describe('ByteTrack and OC-SORT against their reference implementations (YOLOv8n on TUD)', () => {
  for (const [folder, settings] of VARIANTS) {
    for (const sequence of ['TUD-Campus', 'TUD-Stadtmitte']) {
      it(`reproduces ${folder}/${sequence} line for line, and its -full twin bit for bit`, function () {
        const data = requireMot15(this);
        const detections = readFileSync(path.join(data, 'yolov8n', `${sequence}.txt`), 'utf8');
        const expected = readFileSync(path.join(data, folder, `${sequence}.txt`), 'utf8');
        assert.ok(expected.split('\n').length > 200);
        assert.equal(trackFile(detections, settings), expected);

        const full = readFileSync(path.join(data, `${folder}-full`, `${sequence}.txt`), 'utf8')
          .trim()
          .split('\n')
          .filter((line) => !line.startsWith('#'))
          .map((line) => line.split(',').slice(0, 6).map(Number).join(','));
        const frames = detectionsByFrame(parseMot(detections));
        const tracker = createTracker(settings);
        const ours: string[] = [];
        for (let frame = 1; frame < frames.length; frame++) {
          for (const t of tracker.update(frames[frame]).tracks) ours.push([frame, t.id, ...t.topLeftSize()].join(','));
        }
        assert.deepEqual(ours, full);
      });
    }
  }

  it('tells the variants apart: the comparison is not vacuous', function () {
    const data = requireMot15(this);
    const detections = readFileSync(path.join(data, 'yolov8n', 'TUD-Stadtmitte.txt'), 'utf8');
    const reference = readFileSync(path.join(data, 'reference-bytetrack', 'TUD-Stadtmitte.txt'), 'utf8');
    assert.notEqual(trackFile(detections, VARIANTS[1][1]), reference);
    assert.notEqual(trackFile(detections, { algorithm: 'bytetrack', frameRate: 5 }), reference, 'the frame rate sets the lost buffer');
    assert.notEqual(trackFile(detections, VARIANTS[2][1]), readFileSync(path.join(data, 'reference-ocsort-byte', 'TUD-Stadtmitte.txt'), 'utf8'));
  });
});

describe('assignment with a cost limit (lap.lapjv extend_cost)', () => {
  it('takes the matching that minimises the total cost minus the limit, never a pair above the limit', () => {
    // Row 0 fits column 0 best, but pairing it with column 1 frees column 0 for row 1: 0.3 + 0.2 beats 0.1 alone.
    const cost = Float64Array.from([0.1, 0.3, 0.2, 0.9]);
    assert.deepEqual([...assignWithCostLimit(cost, 2, 2, 0.8)], [1, 0]);
    // Above the limit nothing is matched, however few the alternatives.
    assert.deepEqual([...assignWithCostLimit(Float64Array.from([0.9, 0.95]), 1, 2, 0.8)], [-1]);
    assert.deepEqual([...assignWithCostLimit(new Float64Array(0), 0, 3, 0.8)], []);
  });
});

describe('trackers', () => {
  for (const algorithm of TRACKER_ALGORITHMS) {
    it(`${algorithm}: follows a person walking right with one id, numbered from 1 in every tracker`, () => {
      for (let run = 0; run < 2; run++) {
        const tracker = createTracker({ algorithm });
        const ids = new Set<number>();
        for (let f = 0; f < 20; f++) for (const t of tracker.update([person(100 + 5 * f, 50)]).tracks) ids.add(t.id);
        assert.deepEqual([...ids], [1]);
      }
    });

    it(`${algorithm}: skips unusable boxes without losing the others or throwing`, () => {
      const tracker = createTracker({ algorithm, ...(algorithm === 'sort' ? { minHits: 0 } : {}) });
      const bad = [{ bbox: [NaN, 0, 10, 10] }, { bbox: [5, 5, 5, 20] }, { bbox: null }, { bbox: [1, 2] }] as unknown as DetectionInput[];
      for (let f = 0; f < 3; f++) tracker.update([...bad, person(100, 50)]);
      const { tracks } = tracker.update([...bad, person(100, 50)]);
      assert.equal(tracks.length, 1);
      assert.equal(tracks[0].detection?.index, 4, 'the detection index points into the frame list as given');
    });

    it(`${algorithm}: announces a track once when reported and once when it ends`, () => {
      const lostFor = { bytetrack: { trackBuffer: 5 }, hybrid: { lostSeconds: 5 / 30 }, ocsort: { maxAge: 5 }, sort: { maxAge: 5 } }[algorithm];
      const tracker = createTracker({ algorithm, ...lostFor } as TrackerSettings);
      let started = 0;
      let ended = 0;
      for (let f = 0; f < 10; f++) started += tracker.update([person(100 + 5 * f, 50)]).started.length;
      for (let f = 0; f < 10; f++) ended += tracker.update([]).ended.length;
      assert.deepEqual([started, ended], [1, 1]);
      assert.equal(tracker.activeTracks.length, 0);
    });
  }

  it('ByteTrack keeps a person through frames where they only get a low score, and never starts a track from one', () => {
    const tracker = createTracker({ algorithm: 'bytetrack', frameRate: 25 });
    const scores = [0.9, 0.9, 0.9, 0.3, 0.25, 0.3, 0.9, 0.9];
    const reported = scores.map((score, f) => tracker.update([person(100 + 5 * f, 50, score)]).tracks.map((t) => t.id));
    assert.deepEqual(reported, [[1], [1], [1], [1], [1], [1], [1], [1]]);

    const lowOnly = createTracker({ algorithm: 'bytetrack' });
    for (let f = 0; f < 30; f++) assert.deepEqual(lowOnly.update([person(300, 50, 0.4), person(400, 60, 0.2)]).tracks, []);
    assert.equal(lowOnly.activeTracks.length, 0, 'low-score detections alone make no track, confirmed or not');
  });

  it('OC-SORT finds a person again after a few missed frames, with the same id', () => {
    const tracker = createTracker({ algorithm: 'ocsort' });
    const ids: number[] = [];
    for (let f = 0; f < 30; f++) {
      const visible = f < 10 || f >= 15;
      for (const t of tracker.update(visible ? [person(100 + 8 * f, 50)] : []).tracks) ids.push(t.id);
    }
    assert.deepEqual([...new Set(ids)], [1]);
    assert.equal(ids.length, 25 - 2, 'found again, it is reported once it has min_hits (3) matches in a row');
  });

  it('ByteTrack and OC-SORT keep two people apart when they pass each other', () => {
    for (const algorithm of ['bytetrack', 'ocsort'] as const) {
      const tracker = createTracker({ algorithm });
      const byPerson = new Map<string, Set<number>>();
      for (let f = 0; f < 40; f++) {
        const detections = [person(50 + 10 * f, 50), person(450 - 10 * f, 70)];
        for (const t of tracker.update(detections).tracks) {
          const who = t.detection!.index === 0 ? 'A' : 'B';
          byPerson.set(who, (byPerson.get(who) ?? new Set()).add(t.id));
        }
      }
      assert.deepEqual([...byPerson.get('A')!], [1], `${algorithm}: A keeps id 1`);
      assert.deepEqual([...byPerson.get('B')!], [2], `${algorithm}: B keeps id 2`);
    }
  });

  it('refuses settings an algorithm cannot work with, naming them', () => {
    assert.throws(() => createTracker({ algorithm: 'bytetrack', trackThresh: 0.05 }), /trackThresh must be above 0.1/);
    assert.throws(() => createTracker({ algorithm: 'bytetrack', trackBuffer: 2.5 }), /trackBuffer must be a whole number/);
    assert.throws(() => createTracker({ algorithm: 'ocsort', deltaT: 0 }), /deltaT must be a whole number >= 1/);
    assert.throws(() => createTracker({ algorithm: 'ocsort', inertia: -0.1 }), /inertia must be at least 0/);
    assert.throws(() => createTracker({ algorithm: 'kalman' } as unknown as TrackerSettings), /unknown tracker "kalman"; use sort, bytetrack, ocsort/);
  });

  it('keeps one tracker per camera, whatever the algorithm, with ids of their own', () => {
    const trackers = new CameraTrackers({ algorithm: 'bytetrack' });
    for (let f = 0; f < 3; f++) {
      assert.deepEqual(trackers.get('a').update([person(10 + f, 10)]).tracks.map((t) => t.id), [1]);
      assert.deepEqual(trackers.get('b').update([person(200, 10), person(300 + f, 10)]).tracks.map((t) => t.id), [1, 2]);
    }
    assert.equal(trackers.reset('a').get('a')!.length, 1);
    assert.equal(trackers.get('b').activeTracks.length, 2);
  });
});

describe('hybrid tracker', () => {
  /** A detection with a torso of one colour: the whole histogram in one bin. */
  const coloured = (x: number, y: number, bin: number, score = 0.9): DetectionInput => ({ ...person(x, y, score), appearance: Array.from({ length: APPEARANCE_BINS }, (_, i) => (i === bin ? 1 : 0)) });
  const RED = 0;
  const BLUE = 10;

  it('confirms a person who moves most of a box width between detections, where ByteTrack does not', () => {
    // 5 detections per second, 30 px per detection, a 40 px wide box; the person appears after the tracker started.
    const ids = (settings: TrackerSettings) => {
      const tracker = createTracker(settings);
      tracker.update([], 0);
      return Array.from({ length: 10 }, (_, i) => tracker.update([person(100 + 30 * i, 50)], (i + 1) * 200).tracks.map((t) => t.id));
    };
    assert.deepEqual(ids({ algorithm: 'hybrid' }), [[], [1], [1], [1], [1], [1], [1], [1], [1], [1]]);
    assert.deepEqual(ids({ algorithm: 'bytetrack', frameRate: 5 }), [[], [], [], [], [], [], [], [], [], []]);
  });

  it('confirms a newcomer seen again less confidently where they were, as a followed person is kept, but not by a far box', () => {
    // 5 detections per second: first seen at 0.8, then partly hidden (0.4) a step further on, then clear again.
    const ids = (second: DetectionInput) => {
      const tracker = createTracker({ algorithm: 'hybrid' });
      tracker.update([], 0);
      return [[person(100, 50, 0.8)], [second], [person(150, 50, 0.8)]].map((detections, i) => tracker.update(detections, (i + 1) * 200).tracks.map((t) => t.id));
    };
    assert.deepEqual(ids(person(125, 50, 0.4)), [[], [1], [1]], 'confirmed by the less confident sighting, then followed');
    // A low-score box far from the newcomer confirms nothing: the track is dropped and the clear sighting starts another.
    assert.deepEqual(ids(person(400, 50, 0.4)), [[], [], []]);
  });

  it('starts a track where the person was first seen, through the less confident sightings before the clear one', () => {
    const origin = (before: (DetectionInput | null)[]) => {
      const tracker = createTracker({ algorithm: 'hybrid', lostSeconds: 1 });
      tracker.update([], 0);
      let at = 0;
      for (const detection of before) tracker.update(detection ? [detection] : [], (at += 40));
      tracker.update([person(115, 50, 0.8)], (at += 40));
      const [track] = tracker.update([person(120, 50, 0.8)], (at += 40)).tracks;
      return { box: track.firstBox, at: track.firstSeenAt };
    };
    // Half hidden (0.4, 0.5), then above the first round's 0.6 but short of a newcomer's 0.7, then clear.
    assert.deepEqual(origin([person(100, 50, 0.4), person(105, 50, 0.5), person(110, 50, 0.65)]), { box: [100, 50, 140, 150], at: 40 });
    assert.deepEqual(origin([person(100, 50, 0.4), null, person(110, 50, 0.65)]), { box: [110, 50, 150, 150], at: 120 }, 'only through consecutive updates');
    assert.deepEqual(origin([person(300, 50, 0.4), person(110, 50, 0.65)]), { box: [110, 50, 150, 150], at: 80 }, 'not to a box elsewhere');
    assert.deepEqual(origin([person(100, 50, 0.4, 40, 50), person(110, 50, 0.65)]), { box: [110, 50, 150, 150], at: 80 }, 'not to a box of another height (part of someone)');
    const stale = [person(100, 50, 0.4), ...Array.from({ length: 25 }, () => person(110, 50, 0.3))];
    assert.deepEqual(origin(stale).box, [110, 50, 150, 150], 'no further back than a lost track is kept (1 s)');
  });

  it('predicts in seconds: the same walk detected at 25 and at 5 per second ends at the same place', () => {
    const last = (every: number) => {
      const tracker = createTracker({ algorithm: 'hybrid' });
      let box: number[] = [];
      for (let ms = 0; ms <= 4000; ms += every) {
        const { tracks } = tracker.update([person(100 + 0.05 * ms, 50)], ms);
        box = tracks[0]?.bbox ?? box;
      }
      return box[0];
    };
    assert.ok(Math.abs(last(40) - 300) < 1, `${last(40)}`);
    assert.ok(Math.abs(last(200) - 300) < 1, `${last(200)}`);
  });

  it('settles a crossing by colour: a track takes the detection of its colours when two are near', () => {
    const follow = (appearanceVeto: number) => {
      const tracker = createTracker({ algorithm: 'hybrid', appearanceVeto });
      for (let f = 0; f < 5; f++) tracker.update([coloured(100, 50, RED)], f * 40);
      // Next frame: a blue person exactly where red was heading, red slightly off.
      const { tracks } = tracker.update([coloured(100, 50, BLUE), coloured(110, 52, RED)], 200);
      return tracks.filter((t) => t.id === 1).map((t) => t.detection?.index);
    };
    assert.deepEqual(follow(0.5), [1], 'red stays red');
    assert.deepEqual(follow(1), [0], 'on motion alone it would have taken the blue one');
  });

  it('never rules out a lone pair by colour: one person whose colours change is still one person', () => {
    const tracker = createTracker({ algorithm: 'hybrid' });
    const ids = Array.from({ length: 6 }, (_, f) => tracker.update([coloured(100 + 2 * f, 50, f < 3 ? RED : BLUE)], f * 40).tracks.map((t) => t.id));
    assert.deepEqual(ids, [[1], [1], [1], [1], [1], [1]]);
  });

  it('matches on motion alone when a histogram is missing or malformed, without throwing', () => {
    const tracker = createTracker({ algorithm: 'hybrid' });
    const odd = [null, 'red', [1, 2], new Array(APPEARANCE_BINS).fill(Number.NaN), new Array(1e6).fill(0)];
    const ids = odd.map((appearance, f) => tracker.update([{ ...person(100 + 2 * f, 50), appearance } as DetectionInput, coloured(300, 50, RED)], f * 40).tracks.map((t) => t.id).sort());
    assert.deepEqual(ids, [[1, 2], [1, 2], [1, 2], [1, 2], [1, 2]]);
  });

  it('gives a lost track up after lostSeconds of the input\'s time, at any rate', () => {
    for (const every of [40, 200]) {
      const tracker = createTracker({ algorithm: 'hybrid', lostSeconds: 1 });
      tracker.update([person(100, 50)], 0);
      tracker.update([person(102, 50)], every);
      let endedAt: number | null = null;
      for (let ms = 2 * every; ms <= 3000 && endedAt === null; ms += every) if (tracker.update([], ms).ended.length > 0) endedAt = ms;
      assert.ok(endedAt !== null && endedAt > every + 1000 && endedAt <= 2 * every + 1000, `every ${every} ms: ended at ${endedAt}`);
    }
  });

  it('refuses settings it cannot use', () => {
    assert.throws(() => createTracker({ algorithm: 'hybrid', lostSeconds: -1 }), /lostSeconds must be at least 0/);
    assert.throws(() => createTracker({ algorithm: 'hybrid', appearanceVeto: 0 }), /appearanceVeto must be above 0/);
    assert.throws(() => createTracker({ algorithm: 'hybrid', trackThresh: 0.05 }), /trackThresh must be above 0.1/);
  });
});
