import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { crossingAlong, insidePolygon, lastCrossingAlong, segmentsIntersect, sideOfLine, type Point } from '../src/analytics/geometry';
import { ZoneAnalytics, validateLayout, type ZoneEvent, type ZoneLayout } from '../src/analytics/zones';
import type { Box } from '../src/types';
import { ROOT } from './support';

/** A person whose feet (bottom-centre) stand at (x, y). */
const at = (id: number, x: number, y: number, label = 'person') => ({ id, bbox: [x - 10, y - 50, x + 10, y] as Box, label });
const square: Point[] = [[100, 100], [200, 100], [200, 200], [100, 200]];

/** Runs a path of feet positions for one track, one frame per second; returns all events. */
function walk(analytics: ZoneAnalytics, id: number, points: Point[], startSecond = 0): ZoneEvent[] {
  return points.flatMap(([x, y], i) => analytics.update([at(id, x, y)], (startSecond + i) * 1000));
}

const summary = (events: ZoneEvent[]) =>
  events.map((e) => (e.type === 'cross' ? `${e.type} ${e.lineId} ${e.direction} @${e.at / 1000}` : `${e.type} ${e.zoneId} @${e.at / 1000}`));

describe('geometry', () => {
  it('finds where a path last crosses an outline, edges only', () => {
    // Across the square from the left: in at x = 100 (a quarter of the way), out at x = 200 (three quarters).
    assert.equal(lastCrossingAlong([50, 150], [250, 150], square), 0.75);
    assert.equal(lastCrossingAlong([50, 150], [150, 150], square), 0.5);
    assert.equal(lastCrossingAlong([50, 50], [250, 50], square), 1, 'passing above it crosses nothing (the edge lines extended do not count)');
  });

  it('tests points against convex and concave polygons by the even-odd rule', () => {
    assert.equal(insidePolygon([150, 150], square), true);
    assert.equal(insidePolygon([250, 150], square), false);
    // A U: the notch between the arms is outside.
    const u: Point[] = [[0, 0], [30, 0], [30, 100], [70, 100], [70, 0], [100, 0], [100, 130], [0, 130]];
    assert.equal(insidePolygon([15, 50], u), true);
    assert.equal(insidePolygon([50, 50], u), false);
    assert.equal(insidePolygon([50, 120], u), true);
  });

  it('gives the side of a line with y pointing down, and intersects segments', () => {
    // Line from (0,0) to (10,0): below it (y > 0) is positive.
    assert.ok(sideOfLine([5, 5], [0, 0], [10, 0]) > 0);
    assert.ok(sideOfLine([5, -5], [0, 0], [10, 0]) < 0);
    assert.equal(sideOfLine([20, 0], [0, 0], [10, 0]), 0);
    assert.equal(segmentsIntersect([5, -5], [5, 5], [0, 0], [10, 0]), true);
    assert.equal(segmentsIntersect([15, -5], [15, 5], [0, 0], [10, 0]), false);
    assert.equal(crossingAlong([5, -5], [5, 15], [0, 0], [10, 0]), 0.25);
    assert.equal(crossingAlong([5, 5], [5, 15], [0, 0], [10, 0]), 1, 'not crossed');
    assert.equal(segmentsIntersect([10, -5], [10, 0], [0, 0], [10, 0]), true, 'touching counts');
  });
});

describe('ZoneAnalytics', () => {
  const layout: ZoneLayout = { zones: [{ id: 'shelf', polygon: square }] };

  it('counts an entry and an exit with the dwell between them', () => {
    const analytics = new ZoneAnalytics(layout);
    const events = walk(analytics, 1, [[50, 150], [120, 150], [150, 150], [180, 150], [250, 150]]);
    assert.deepEqual(summary(events), ['enter shelf @1', 'exit shelf @4']);
    const [zone] = analytics.stats().zones;
    assert.deepEqual([zone.currentCount, zone.totalEntries, zone.totalExits, zone.avgDwellSeconds, zone.peakCount, zone.peakAt], [0, 1, 1, 3, 1, 1000]);
  });

  it('counts a track that first appears inside as entering, and one that vanishes inside as leaving when last seen', () => {
    const analytics = new ZoneAnalytics(layout, { trackTimeoutSeconds: 2 });
    const events = [...walk(analytics, 1, [[150, 150], [160, 150]]), ...[2, 3, 4].flatMap((s) => analytics.update([], s * 1000))];
    assert.deepEqual(summary(events), ['enter shelf @0', 'exit shelf @1']);
    const exit = events[1] as Extract<ZoneEvent, { type: 'exit' }>;
    assert.deepEqual([exit.trackEnded, exit.dwellSeconds], [true, 1]);
    assert.equal(analytics.trackedCount, 0, 'the ended track is forgotten');
  });

  it('ends a track on request, as when the tracker reports it ended', () => {
    const analytics = new ZoneAnalytics(layout);
    walk(analytics, 7, [[150, 150], [150, 160], [150, 170]]);
    assert.deepEqual(summary(analytics.endTrack(7)), ['exit shelf @2']);
    assert.deepEqual(analytics.endTrack(7), []);
  });

  it('counts a walk through the notch of a concave zone as two visits', () => {
    const u: Point[] = [[0, 0], [30, 0], [30, 100], [70, 100], [70, 0], [100, 0], [100, 130], [0, 130]];
    const analytics = new ZoneAnalytics({ zones: [{ id: 'u', polygon: u }] });
    const events = walk(analytics, 1, [[-10, 50], [15, 50], [50, 50], [85, 50], [120, 50]]);
    assert.deepEqual(summary(events), ['enter u @1', 'exit u @2', 'enter u @3', 'exit u @4']);
  });

  it('suppresses jitter on a zone border with minFrames 3, counts it with minFrames 1', () => {
    const jitter: Point[] = [[90, 150], [101, 150], [99, 150], [101, 150], [99, 150], [101, 150], [99, 150]];
    const eager = new ZoneAnalytics({ zones: [{ id: 'z', polygon: square }] });
    assert.equal(walk(eager, 1, jitter).filter((e) => e.type === 'enter').length, 3);
    const patient = new ZoneAnalytics({ zones: [{ id: 'z', polygon: square, minFrames: 3 }] });
    assert.deepEqual(walk(patient, 1, jitter), []);
    // Three frames inside in a row: one entry, dated at the first of them.
    assert.deepEqual(summary(walk(patient, 1, [[120, 150], [130, 150], [140, 150], [150, 150]], 10)), ['enter z @10']);
  });

  it('does not count a fast mover that jumps over a thin zone, but counts its line crossing', () => {
    const analytics = new ZoneAnalytics({
      zones: [{ id: 'strip', polygon: [[100, 0], [110, 0], [110, 300], [100, 300]] }],
      lines: [{ id: 'door', from: [105, 0], to: [105, 300] }],
    });
    const events = walk(analytics, 1, [[50, 150], [160, 150]]);
    // Moving right across a line drawn downwards: from positive to negative side, which is "out".
    assert.deepEqual(summary(events), ['cross door out @1']);
    assert.equal(analytics.stats().zones[0].totalEntries, 0);
  });

  it('counts line crossings by direction and ignores passing around the end of the line', () => {
    const layoutWithLine: ZoneLayout = { lines: [{ id: 'door', from: [0, 100], to: [100, 100] }] };
    const analytics = new ZoneAnalytics(layoutWithLine);
    // Line drawn left to right: below (y > 100) is the positive side; walking down is "in".
    walk(analytics, 1, [[50, 80], [50, 120]]);
    walk(analytics, 2, [[60, 130], [60, 90]]);
    walk(analytics, 3, [[150, 80], [150, 120]]);
    const [door] = analytics.stats().lines;
    assert.deepEqual([door.in, door.out], [1, 1]);
  });

  it('counts a track sitting on a line once with minFrames 3, and each real crossing with minFrames 1', () => {
    const jitter: Point[] = [[50, 90], [50, 101], [50, 99], [50, 101], [50, 99], [50, 101], [50, 99], [50, 120], [50, 130], [50, 140]];
    const eager = new ZoneAnalytics({ lines: [{ id: 'l', from: [0, 100], to: [100, 100] }] });
    walk(eager, 1, jitter);
    assert.deepEqual([eager.stats().lines[0].in, eager.stats().lines[0].out], [4, 3]);
    const patient = new ZoneAnalytics({ lines: [{ id: 'l', from: [0, 100], to: [100, 100], minFrames: 3 }] });
    const events = walk(patient, 1, jitter);
    assert.deepEqual(summary(events), ['cross l in @7']);
  });

  it('counts two people crossing together', () => {
    const analytics = new ZoneAnalytics({ zones: [{ id: 'z', polygon: square }], lines: [{ id: 'l', from: [100, 0], to: [100, 300] }] });
    for (const [s, x] of [[0, 80], [1, 120], [2, 150]] as const) analytics.update([at(1, x, 140), at(2, x, 160)], s * 1000);
    const stats = analytics.stats();
    assert.deepEqual([stats.zones[0].currentCount, stats.zones[0].peakCount, stats.lines[0].out], [2, 2, 2]);
  });

  it('accepts normalised coordinates given the frame size', () => {
    const analytics = new ZoneAnalytics({ zones: [{ id: 'half', polygon: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]] }] });
    analytics.update([at(1, 100, 100)], 0, { width: 640, height: 480 });
    assert.equal(analytics.stats().zones[0].currentCount, 1);
    assert.throws(() => analytics.update([at(2, 100, 100)], 1000), /normalised coordinates/);
  });

  it('measures the centre instead of the feet when asked', () => {
    const analytics = new ZoneAnalytics(layout, { anchor: 'center' });
    // Feet at y 240 (outside), centre at y 190 (inside).
    analytics.update([{ id: 1, bbox: [140, 140, 160, 240] }], 0);
    assert.equal(analytics.stats().zones[0].currentCount, 1);
  });

  it('counts per class when several classes are tracked', () => {
    const analytics = new ZoneAnalytics(layout);
    analytics.update([at(1, 150, 150, 'person'), at(2, 160, 160, 'shopping cart')], 0);
    assert.deepEqual(analytics.stats().zones[0].byClass, {
      person: { currentCount: 1, totalEntries: 1 },
      'shopping cart': { currentCount: 1, totalEntries: 1 },
    });
  });

  it("estimates a queue's waiting time from its recent throughput (Little's law)", () => {
    const analytics = new ZoneAnalytics({ zones: [{ id: 'till', polygon: square, queue: true }] }, { queueWindowSeconds: 60, trackTimeoutSeconds: 1000 });
    // Six people leave the queue within the minute (one every 10 s) while three wait.
    for (let i = 0; i < 6; i++) {
      analytics.update([at(100 + i, 150, 150)], i * 10000);
      analytics.update([at(100 + i, 250, 150)], i * 10000 + 5000);
    }
    analytics.update([at(1, 150, 150), at(2, 130, 170), at(3, 170, 130)], 59000);
    const queue = analytics.stats(60000).zones[0].queue!;
    assert.deepEqual([queue.length, queue.throughputPerMinute], [3, 6]);
    assert.equal(queue.estimatedWaitSeconds, 30, 'L / λ = 3 / (6 per 60 s)');
  });

  it('keeps memory bounded after 100,000 tracks have passed', () => {
    // Ids replaced every frame at the same spots would be taken for broken tracks: this is about memory, so no re-linking.
    const analytics = new ZoneAnalytics({ zones: [{ id: 'z', polygon: square }], lines: [{ id: 'l', from: [100, 0], to: [100, 300] }] }, { trackTimeoutSeconds: 0.5, relinkSeconds: 0 });
    let frame = 0;
    for (let id = 1; id <= 100000; id += 10) {
      for (const x of [80, 150, 250]) {
        analytics.update(Array.from({ length: 10 }, (_, k) => at(id + k, x, 150)), frame++ * 100);
      }
      assert.ok(analytics.trackedCount <= 10 * 8);
    }
    for (let f = 0; f < 10; f++) analytics.update([], frame++ * 100);
    assert.equal(analytics.trackedCount, 0);
    const [zone] = analytics.stats().zones;
    assert.deepEqual([zone.totalEntries, zone.totalExits, zone.currentCount], [100000, 100000, 0]);
    assert.equal(analytics.stats().lines[0].out, 100000);
  });

  it('explains a malformed layout', () => {
    assert.throws(() => validateLayout({ zones: [{ id: 'a', polygon: [[0, 0], [1, 1]] }] }), /zone "a": "polygon" must be at least 3 points/);
    assert.throws(() => validateLayout({ zones: [{ polygon: square }] }), /zone 1 needs an "id"/);
    assert.throws(() => validateLayout({ zones: [{ id: 'a', polygon: square }], lines: [{ id: 'a', from: [0, 0], to: [1, 0] }] }), /used twice/);
    assert.throws(() => validateLayout({ lines: [{ id: 'l', from: [0, 0], to: [0, 0] }] }), /same point/);
    assert.throws(() => validateLayout({ zones: [{ id: 'a', polygon: square, minFrames: 0 }] }), /minFrames must be a whole number/);
    assert.throws(() => validateLayout(null), /must be an object/);
  });
});
/** Frames one second apart, each a list of [track id, x, y] feet positions; returns all events. */
function play(analytics: ZoneAnalytics, frames: [number, number, number][][]): ZoneEvent[] {
  return frames.flatMap((tracks, i) => analytics.update(tracks.map(([id, x, y]) => at(id, x, y)), i * 1000));
}

/** One person walking along y = 150 from x0, 10 px per frame, as `id` for `frames` frames. */
const steps = (id: number, x0: number, frames: number): [number, number, number][][] => Array.from({ length: frames }, (_, i) => [[id, x0 + 10 * i, 150]]);

describe('ZoneAnalytics: tracks that break and restart', () => {
  // Frames here are a second apart: timeouts long enough for gaps of a few frames.
  const SECOND_APART = { trackTimeoutSeconds: 30, relinkSeconds: 30 };
  const zoneLayout: ZoneLayout = { zones: [{ id: 'shelf', polygon: [[100, 100], [400, 100], [400, 200], [100, 200]] }] };
  const lineLayout: ZoneLayout = { lines: [{ id: 'door', from: [250, 300], to: [250, 0], footfall: true }] };
  const gap = (frames: number): [number, number, number][][] => Array.from({ length: frames }, () => []);

  it('a person whose track breaks inside a zone enters it once, and the visit lasts from entry to exit', () => {
    for (const relinkSeconds of [30, 0]) {
      const analytics = new ZoneAnalytics(zoneLayout, { relinkSeconds, trackTimeoutSeconds: 30 });
      // Track 1 walks in and is lost for 4 frames; the tracker finds the person again as track 2, 50 px further on.
      const events = play(analytics, [...steps(1, 60, 10), ...gap(4), ...steps(2, 200, 25)]);
      const [zone] = (analytics.endAll(), analytics.stats()).zones;
      if (relinkSeconds === 0) {
        assert.deepEqual([zone.totalEntries, zone.totalExits, analytics.peopleSeen], [2, 2, 2], 'without re-linking the broken track is a second visitor');
        continue;
      }
      assert.equal(analytics.peopleSeen, 1);
      assert.deepEqual(summary(events), ['enter shelf @4', 'exit shelf @34']);
      const [enter, exit] = events as Extract<ZoneEvent, { type: 'enter' | 'exit' }>[];
      assert.deepEqual([enter.trackId, exit.trackId, exit.visitId], [1, 2, enter.visitId], 'the visit keeps its id under the new track id');
      assert.deepEqual([zone.totalEntries, zone.totalExits, zone.avgDwellSeconds], [1, 1, 30]);
    }
  });

  it('a line crossed while the track was broken is counted once, and footfall counts the person once', () => {
    for (const relinkSeconds of [30, 0]) {
      const analytics = new ZoneAnalytics(lineLayout, { relinkSeconds, trackTimeoutSeconds: 30 });
      // Lost 20 px before the line, found again 30 px after it.
      const events = play(analytics, [...steps(1, 140, 10), ...gap(3), ...steps(7, 280, 10)]);
      const crossings = events.filter((e) => e.type === 'cross');
      assert.equal(crossings.length, relinkSeconds ? 1 : 0);
      assert.equal(analytics.footfallEvents(events).length, relinkSeconds ? 1 : 0);
      // Last seen at x = 230 (second 9), found at 280 (second 13): the path crosses x = 250 two fifths of the way.
      if (relinkSeconds) assert.deepEqual(summary(crossings), ['cross door in @10.6']);
    }
  });

  it('two people who swap track ids inside a zone are still two visits, entering and leaving once each', () => {
    const analytics = new ZoneAnalytics(zoneLayout, SECOND_APART);
    const frames: [number, number, number][][] = [];
    // A walks right along y = 150, B left along y = 160; they meet at x = 250 and the tracker swaps their ids.
    for (let i = 0; i <= 30; i++) {
      const a = 60 + 10 * i;
      const b = 440 - 10 * i;
      frames.push(a < 250 ? [[1, a, 150], [2, b, 160]] : [[2, a, 150], [1, b, 160]]);
    }
    play(analytics, frames);
    const [zone] = analytics.stats().zones;
    assert.deepEqual([zone.totalEntries, zone.currentCount], [2, 2]);
    analytics.update([], 31000);
    analytics.endAll();
    assert.deepEqual((({ totalEntries, totalExits, currentCount }) => [totalEntries, totalExits, currentCount])(analytics.stats().zones[0]), [2, 2, 0]);
  });

  it('a new track far from where the lost one was heading is a new person', () => {
    const analytics = new ZoneAnalytics(zoneLayout, SECOND_APART);
    // Track 1 walks right and is lost at x = 250; track 2 appears 3 frames later at x = 150, behind it.
    play(analytics, [...steps(1, 60, 20), ...gap(3), ...steps(2, 150, 5)]);
    assert.equal(analytics.stats().zones[0].totalEntries, 2);
  });

  it('a lost person continues one new track only, the nearest to where they were heading', () => {
    const analytics = new ZoneAnalytics(zoneLayout, SECOND_APART);
    const events = play(analytics, [
      ...steps(1, 60, 12),
      [],
      // Two new tracks at once: 5 px and 15 px from the position expected two frames after the loss (x = 190).
      ...Array.from({ length: 5 }, (_, i): [number, number, number][] => [[8, 195 + 10 * i, 150], [9, 205 + 10 * i, 150]]),
    ]);
    const entries = events.filter((e) => e.type === 'enter');
    assert.deepEqual(entries.map((e) => e.trackId), [1, 9], 'track 8 continues track 1; track 9 is a new visitor');
  });

  it('refuses re-linking settings it cannot use', () => {
    assert.throws(() => new ZoneAnalytics(zoneLayout, { relinkSeconds: -1 }), /from 0 to 3600 seconds/);
    assert.throws(() => new ZoneAnalytics(zoneLayout, { relinkDistance: 0 }), /above 0 box heights/);
  });
});


describe('retail-analytics zones', () => {
  it('counts zones and lines of a MOT track file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'zones-'));
    // Track 1 walks through the square (feet at y = 150) left to right over frames 1-5; track 2 stands inside
    // from frame 3 to the end.
    const rows: string[] = [];
    [50, 120, 150, 180, 250].forEach((x, i) => rows.push(`${i + 1},1,${x - 10},100,20,50,1,-1,-1,-1`));
    for (let f = 3; f <= 5; f++) rows.push(`${f},2,140,110,20,50,1,-1,-1,-1`);
    writeFileSync(path.join(dir, 'tracks.txt'), rows.join('\n'));
    writeFileSync(path.join(dir, 'layout.json'), JSON.stringify({ zones: [{ id: 'shelf', polygon: square }], lines: [{ id: 'aisle', from: [200, 0], to: [200, 300] }] }));
    const result = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'zones', '--tracks', path.join(dir, 'tracks.txt'), '--config', path.join(dir, 'layout.json'), '--fps', '2'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      // Track 1: in at frame 2 (0.5 s), out at frame 5 (2 s): 1.5 s. Track 2: in at frame 3 (1 s), still inside
      // at the last frame, ended at its last sighting (frame 5, 2 s): 1 s.
      zones: [{ id: 'shelf', currentCount: 1, totalEntries: 2, totalExits: 2, avgDwellSeconds: 1.25, peakCount: 2 }],
      lines: [{ id: 'aisle', in: 0, out: 1 }],
    });
  });

  it('explains a bad layout file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'zones-'));
    writeFileSync(path.join(dir, 'tracks.txt'), '1,1,0,0,10,10,1,-1,-1,-1');
    writeFileSync(path.join(dir, 'layout.json'), '{"zones": [');
    const result = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'zones', '--tracks', path.join(dir, 'tracks.txt'), '--config', path.join(dir, 'layout.json')], { encoding: 'utf8' });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /layout.json is not valid JSON/);
  });
});

describe('ZoneAnalytics: the same counts at any detection rate', () => {
  const lineLayout: ZoneLayout = { lines: [{ id: 'door', from: [250, 300], to: [250, 0], minFrames: 3 }] };

  it('minFrames counts camera frames, so a crossing seen at every fifth frame needs two observations, not three', () => {
    // A person walks from x = 100 to 400, 4 px per camera frame (25 fps); the crossing is near the end.
    const walk = (every: number) => {
      const analytics = new ZoneAnalytics(lineLayout);
      for (let frame = 1; frame <= 48; frame += every) analytics.update([at(1, 100 + 4 * frame, 150)], (frame - 1) * 40, undefined, frame);
      return analytics.stats().lines[0].in;
    };
    assert.equal(walk(1), 1);
    assert.equal(walk(5), 1, 'detected at 5 of 25 frames per second');
  });

  it('counts from where the path crossed: a person first seen well past a line has crossed it, one just past it not yet', () => {
    // Seen every fifth frame (5 of 25 per second), walking 20 px per observation.
    const observe = (xs: number[]) => {
      const analytics = new ZoneAnalytics(lineLayout);
      const events = xs.flatMap((x, i) => analytics.update([at(1, x, 150)], i * 200, undefined, 1 + 5 * i));
      return summary(events);
    };
    // 230 → 255: the line is four fifths of the way, a frame before the observation: wait for the next one.
    assert.deepEqual(observe([210, 230, 255]), []);
    assert.deepEqual(observe([210, 230, 255, 275]), ['cross door in @0.36']);
    // 240 → 260: crossed half way, 2.5 frames before the observation, which spans 3 frames with it.
    assert.deepEqual(observe([220, 240, 260]), ['cross door in @0.3']);
  });

  it('a zone entered between two observations is entered where the path crossed its edge', () => {
    const layout: ZoneLayout = { zones: [{ id: 'till', polygon: [[250, 0], [400, 0], [400, 300], [250, 300]], minFrames: 3 }] };
    const analytics = new ZoneAnalytics(layout);
    const events = [200, 230, 270, 310].flatMap((x, i) => analytics.update([at(1, x, 150)], i * 200, undefined, 1 + 5 * i));
    assert.deepEqual(summary(events), ['enter till @0.3'], '230 → 270 crosses x = 250 half way');
  });

  it('a track confirmed after the person crossed still counts the crossing, from where the tracker first saw them', () => {
    // The tracker saw the person at x = 230 (time 0), confirmed the track at the next detection, past the line.
    const born = { bbox: at(7, 230, 150).bbox, at: 0 };
    const counted = (firstSeen?: typeof born) => {
      const analytics = new ZoneAnalytics(lineLayout);
      analytics.update([], 0, undefined, 1);
      const events = [270, 290].flatMap((x, i) => analytics.update([{ ...at(7, x, 150), firstSeen }], (i + 1) * 200, undefined, 6 + 5 * i));
      return summary(events);
    };
    assert.deepEqual(counted(born), ['cross door in @0.1']);
    assert.deepEqual(counted(), [], 'without it the person is first known past the line');
    assert.deepEqual(counted({ ...born, at: -5000 }), [], 'a birth before the updates remembered is not placed');
  });

  it('without frame numbers each update is the next frame, as before', () => {
    const analytics = new ZoneAnalytics(lineLayout);
    for (const [i, x] of [200, 240, 260, 270].entries()) analytics.update([at(1, x, 150)], i * 200);
    assert.equal(analytics.stats().lines[0].in, 0, 'two observations past the line are not three frames');
    analytics.update([at(1, 280, 150)], 800);
    assert.equal(analytics.stats().lines[0].in, 1);
  });

  it('times a track out after the same seconds whatever the frame rate', () => {
    for (const fps of [5, 25]) {
      const analytics = new ZoneAnalytics({ zones: [{ id: 'z', polygon: [[0, 0], [300, 0], [300, 300], [0, 300]] }] }, { trackTimeoutSeconds: 2, relinkSeconds: 0 });
      analytics.update([at(1, 150, 150)], 0);
      let endedAt = null;
      for (let t = 1000 / fps; t <= 5000 && endedAt === null; t += 1000 / fps) if (analytics.update([], t).some((e) => e.type === 'exit')) endedAt = t;
      assert.ok(endedAt !== null && endedAt > 2000 && endedAt <= 2000 + 1000 / fps, `${fps} fps: ended at ${endedAt} ms`);
    }
  });
});

describe('ZoneAnalytics: the books balance', () => {
  const layout: ZoneLayout = { zones: [{ id: 'shelf', polygon: square }, { id: 'aisle', polygon: [[0, 0], [400, 0], [400, 400], [0, 400]] }], lines: [{ id: 'door', from: [0, 150], to: [400, 150] }] };
  const exits = (events: ZoneEvent[]) => events.flatMap((e) => (e.type === 'exit' ? [`${e.zoneId} ${e.reason} @${e.at / 1000} dwell ${e.dwellSeconds}`] : []));
  const balanced = (analytics: ZoneAnalytics) => analytics.stats().zones.every((z) => z.totalEntries - z.totalExits === z.currentCount && z.currentCount >= 0);

  it('says why each visit ended: left, or lost when its track ended', () => {
    const analytics = new ZoneAnalytics(layout, { trackTimeoutSeconds: 2 });
    const left = walk(analytics, 1, [[150, 150], [150, 170], [250, 170]]);
    assert.deepEqual(exits(left), ['shelf left @2 dwell 2']);
    const lost = [...walk(analytics, 2, [[150, 150], [160, 150]], 10), ...[12, 13, 14].flatMap((s) => analytics.update([], s * 1000))];
    assert.deepEqual(exits(lost), ['aisle lost @2 dwell 2', 'shelf lost @11 dwell 1', 'aisle lost @11 dwell 1'], 'the first person, last seen in the aisle, timed out too');
    walk(analytics, 3, [[300, 300]], 20);
    assert.deepEqual(exits(analytics.endAll()), ['aisle lost @20 dwell 0'], 'the end of a recording');
    assert.ok(balanced(analytics));
  });

  it('visits under way when counters are saved end on restore with the saved reason, at the last time seen', () => {
    const before = new ZoneAnalytics(layout);
    walk(before, 1, [[150, 150], [150, 160], [150, 170]]);
    walk(before, 2, [[300, 300], [300, 310]], 1);
    const saved = JSON.parse(JSON.stringify(before.totals('redeploy')));
    assert.deepEqual(before.stats().zones.map((z) => [z.id, z.currentCount]), [['shelf', 1], ['aisle', 2]]);

    const after = new ZoneAnalytics(layout);
    after.restoreTotals(saved);
    assert.deepEqual(after.stats().zones.map((z) => [z.id, z.totalEntries, z.totalExits, z.currentCount]), [['shelf', 1, 1, 0], ['aisle', 2, 2, 0]]);
    assert.ok(balanced(after), 'balanced from the moment counting resumes');
    const events = after.update([at(9, 350, 350)], 60_000);
    assert.deepEqual(exits(events).sort(), ['aisle redeploy @2 dwell 2', 'aisle redeploy @2 dwell 1', 'shelf redeploy @2 dwell 2'].sort());
    const visitIds = events.filter((e) => e.type === 'exit').map((e) => (e as { visitId: string }).visitId).sort();
    assert.deepEqual(visitIds, ['aisle:1:0', 'aisle:2:1000', 'shelf:1:0'], 'each exit pairs with its visit\'s entry');
    assert.equal(exits(after.update([at(9, 350, 350)], 61_000)).length, 0, 'each restored visit ends once');
    assert.equal(after.stats().zones[0].avgDwellSeconds, 2, 'dwell counts only what was seen before the stop');
    assert.deepEqual(after.stats().lines, [{ id: 'door', name: 'door', in: 0, out: 0 }], 'lines are unaffected');
  });

  it('a periodic save ends the visits as restart (the process died without closing)', () => {
    const before = new ZoneAnalytics(layout);
    walk(before, 1, [[150, 150], [150, 160]]);
    const after = new ZoneAnalytics(layout);
    after.restoreTotals(JSON.parse(JSON.stringify(before.totals('restart'))));
    assert.deepEqual(exits(after.update([], 5000)), ['shelf restart @1 dwell 1', 'aisle restart @1 dwell 1']);
  });

  it('entries − exits = inside after every frame, through random walks, lost tracks, re-links and restores', () => {
    // A seeded generator: the same walk every run.
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let analytics = new ZoneAnalytics(layout, { trackTimeoutSeconds: 1, relinkSeconds: 1 });
    const people = new Map<number, Point>();
    let nextId = 1;
    const ended: string[] = [];
    const entered: string[] = [];
    for (let frame = 1; frame <= 3000; frame++) {
      if (random() < 0.05) people.set(nextId++, [random() * 400, random() * 400]);
      for (const [id, [x, y]] of people) {
        if (random() < 0.01) people.delete(id);
        else people.set(id, [x + (random() - 0.5) * 60, y + (random() - 0.5) * 60]);
      }
      const visible = [...people].filter(() => random() > 0.1).map(([id, [x, y]]) => at(id, x, y));
      const events = analytics.update(visible, frame * 100, undefined, frame);
      for (const e of events) if (e.type === 'enter') entered.push(e.visitId);
      for (const e of events) if (e.type === 'exit') ended.push(e.visitId);
      assert.ok(balanced(analytics), `frame ${frame}: ${JSON.stringify(analytics.stats().zones.map((z) => [z.totalEntries, z.totalExits, z.currentCount]))}`);
      if (frame % 500 === 0) {
        const saved = JSON.parse(JSON.stringify(analytics.totals(frame % 1000 === 0 ? 'redeploy' : 'restart')));
        analytics = new ZoneAnalytics(layout, { trackTimeoutSeconds: 1, relinkSeconds: 1 });
        analytics.restoreTotals(saved);
        assert.ok(balanced(analytics), `restored at frame ${frame}`);
      }
    }
    for (const e of analytics.endAll()) if (e.type === 'exit') ended.push(e.visitId);
    assert.ok(entered.length > 100, `${entered.length} visits`);
    assert.deepEqual([...ended].sort(), [...entered].sort(), 'every visit that began ended exactly once');
    assert.ok(analytics.stats().zones.every((z) => z.currentCount === 0 && z.totalEntries === z.totalExits));
  });
});

describe('ZoneAnalytics: when to detect faster', () => {
  // A line across x = 400 and a zone from x = 600 to 700; people are 100 px tall.
  const layout: ZoneLayout = { lines: [{ id: 'door', from: [400, 0], to: [400, 500] }], zones: [{ id: 'till', polygon: [[600, 0], [700, 0], [700, 500], [600, 500]] }] };
  const person = (id: number, x: number, height = 100): { id: number; bbox: Box } => ({ id, bbox: [x - 20, 300 - height, x + 20, 300] });

  it('wants faster detection while someone is within a box height of a line or a zone edge, and not otherwise', () => {
    const analytics = new ZoneAnalytics(layout);
    const near = (tracks: { id: number; bbox: Box }[]) => (analytics.update(tracks, 0), analytics.wantsFasterDetection);
    assert.equal(near([]), false, 'nobody');
    assert.equal(near([person(1, 200), person(2, 500)]), false, 'two people more than their height from the line and the zone');
    assert.equal(near([person(1, 200), person(2, 460)]), true, '60 px from the line');
    assert.equal(near([person(1, 650)]), true, 'inside the zone, 50 px from its edges');
    assert.equal(near([person(1, 200), person(2, 460, 40)]), false, 'a small, far-away person 60 px from the line: more than their height');
  });

  it('measures shapes given as fractions of the frame in the frame\'s pixels', () => {
    const analytics = new ZoneAnalytics({ lines: [{ id: 'door', from: [0.5, 0], to: [0.5, 1] }] });
    analytics.update([person(1, 450)], 0, { width: 800, height: 600 });
    assert.equal(analytics.wantsFasterDetection, true);
    analytics.update([person(1, 100)], 100, { width: 800, height: 600 });
    assert.equal(analytics.wantsFasterDetection, false);
  });
});

describe('ZoneAnalytics: a new layout while counting', () => {
  const wide: Point[] = [[0, 0], [400, 0], [400, 400], [0, 400]];
  const layout: ZoneLayout = { zones: [{ id: 'shelf', polygon: square }, { id: 'aisle', polygon: wide, footfall: true }], lines: [{ id: 'door', from: [0, 150], to: [400, 150] }] };
  const balanced = (analytics: ZoneAnalytics) => analytics.stats().zones.every((z) => z.totalEntries - z.totalExits === z.currentCount && z.currentCount >= 0);
  const counts = (analytics: ZoneAnalytics) => analytics.stats().zones.map((z) => `${z.id} ${z.totalEntries}/${z.totalExits}/${z.currentCount}`);

  it('keeps the people and counts of zones that stay, renamed or with their keys in another order', () => {
    const analytics = new ZoneAnalytics(layout);
    walk(analytics, 1, [[150, 150], [150, 160]]);
    const moved = { zones: [{ polygon: wide, id: 'aisle', footfall: true, name: 'Main aisle' }, { id: 'shelf', polygon: square }], lines: layout.lines };
    assert.deepEqual(analytics.relayout(moved), [], 'no visit ends');
    const later = walk(analytics, 1, [[150, 170], [250, 170], [500, 170]], 2);
    assert.deepEqual(summary(later), ['exit shelf @3', 'exit aisle @4'], 'the visits go on: no second entry, exits as usual');
    assert.equal(analytics.footfallEvents(later).length, 0, 'nobody is counted twice in footfall');
    assert.deepEqual(analytics.stats().zones.map((z) => z.name), ['Main aisle', 'shelf']);
  });

  it('ends the visits of a changed or removed zone as layout, keeps the changed zone\'s totals, and counts its new shape', () => {
    const analytics = new ZoneAnalytics(layout);
    walk(analytics, 1, [[150, 150], [150, 160]]);
    walk(analytics, 2, [[300, 300]], 1);
    const ended = analytics.relayout({ zones: [{ id: 'shelf', polygon: [[100, 100], [350, 100], [350, 350], [100, 350]] }], lines: [] });
    assert.deepEqual(
      ended.map((e) => (e.type === 'exit' ? `${e.zoneId} ${e.trackId} ${e.reason} @${e.at / 1000}` : e.type)).sort(),
      ['aisle 1 layout @1', 'aisle 2 layout @1', 'shelf 1 layout @1'],
      'at the last sighting',
    );
    assert.deepEqual(counts(analytics), ['shelf 1/1/0'], 'the shelf keeps its day; the aisle is gone');
    assert.ok(balanced(analytics));
    const next = analytics.update([at(1, 150, 170), at(2, 300, 300)], 2000);
    assert.deepEqual(summary(next).sort(), ['enter shelf @2', 'enter shelf @2'], 'both stand in the new shape');
    assert.deepEqual(counts(analytics), ['shelf 3/1/2']);
    assert.deepEqual(analytics.stats().lines, [], 'the door is gone');
  });

  it('a line that changes keeps its counts and starts each person\'s side afresh', () => {
    const analytics = new ZoneAnalytics(layout);
    walk(analytics, 1, [[50, 100], [50, 200]]);
    assert.deepEqual(analytics.stats().lines.map((l) => [l.in, l.out]), [[1, 0]]);
    analytics.relayout({ lines: [{ id: 'door', from: [0, 250], to: [400, 250] }] });
    const events = walk(analytics, 1, [[50, 240], [50, 260], [50, 300]], 2);
    assert.deepEqual(summary(events), ['cross door in @3']);
    assert.deepEqual(analytics.stats().lines.map((l) => [l.in, l.out]), [[2, 0]]);
  });

  it('refuses a layout that is not valid and keeps counting with the old one', () => {
    const analytics = new ZoneAnalytics(layout);
    walk(analytics, 1, [[150, 150]]);
    assert.throws(() => analytics.relayout({ zones: [{ id: 'x', polygon: [[0, 0], [1, 1]] }] }), /at least 3 points/);
    assert.throws(() => analytics.relayout({ zones: [{ id: 'a', polygon: square }, { id: 'a', polygon: square }] }), /used twice/);
    assert.deepEqual(counts(analytics), ['shelf 1/0/1', 'aisle 1/0/1']);
    assert.deepEqual(summary(walk(analytics, 1, [[500, 500]], 1)), ['exit shelf @1', 'exit aisle @1']);
  });

  it('entries − exits = inside through random walks with the layout changing every 300 frames', () => {
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const analytics = new ZoneAnalytics(layout, { trackTimeoutSeconds: 1, relinkSeconds: 1 });
    const people = new Map<number, Point>();
    let nextId = 1;
    const entered: string[] = [];
    const ended: string[] = [];
    const note = (events: ZoneEvent[]) => {
      for (const e of events) if (e.type === 'enter') entered.push(e.visitId);
      for (const e of events) if (e.type === 'exit') ended.push(e.visitId);
    };
    for (let frame = 1; frame <= 2400; frame++) {
      if (random() < 0.05) people.set(nextId++, [random() * 400, random() * 400]);
      for (const [id, [x, y]] of people) {
        if (random() < 0.01) people.delete(id);
        else people.set(id, [x + (random() - 0.5) * 60, y + (random() - 0.5) * 60]);
      }
      note(analytics.update([...people].map(([id, [x, y]]) => at(id, x, y)), frame * 100, undefined, frame));
      if (frame % 300 === 0) {
        const size = 100 + random() * 300;
        note(analytics.relayout({ zones: [{ id: 'shelf', polygon: [[0, 0], [size, 0], [size, size], [0, size]] }, ...(frame % 600 === 0 ? [] : [{ id: 'aisle', polygon: wide }])] }));
      }
      assert.ok(balanced(analytics), `frame ${frame}: ${counts(analytics)}`);
    }
    note(analytics.endAll());
    assert.ok(entered.length > 100, `${entered.length} visits`);
    assert.deepEqual([...ended].sort(), [...entered].sort(), 'every visit that began ended exactly once');
  });
});
