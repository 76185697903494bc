import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { alertRule, ZoneAlert } from '../src/analytics/alerts';
import { BuyingUnits } from '../src/analytics/buying-units';
import { IntervalSummaries, type IntervalSummary } from '../src/analytics/summaries';
import { ZoneService } from '../src/analytics/zone-service';
import { ZoneAnalytics, type TrackObservation, type ZoneEvent, type ZoneLayout } from '../src/analytics/zones';
import { readBucket } from '../src/fleet/state';
import { MetricsCollector } from '../src/metrics/collector';
import { calendarKey, StoreCalendar, type CalendarSettings } from '../src/metrics/calendar';
import { exportRows, parseExportTime, toCsv } from '../src/metrics/export';
import { HOUR, LocalClock, MINUTE } from '../src/metrics/local-time';
import { acquireMetrics } from '../src/metrics/shared';
import { conversionReport } from '../src/sales/conversion';
import { SalesLedger } from '../src/sales/ledger';
import { MqttTopics } from '../src/mqtt/topics';
import { MetricsStore } from '../src/metrics/store';
import { openDatabase } from '../src/sqlite';

const tempDatabase = () => path.join(mkdtempSync(path.join(tmpdir(), 'reporting-')), 'metrics.db');

describe('store calendar: local days and hours', () => {
  const clockChanges = [
    { zone: 'Europe/Berlin', day: '2026-03-29', hours: 23, start: '2026-03-29T00:00:00+01:00', next: '2026-03-30T00:00:00+02:00' },
    { zone: 'Europe/Berlin', day: '2026-10-25', hours: 25, start: '2026-10-25T00:00:00+02:00', next: '2026-10-26T00:00:00+01:00' },
    { zone: 'America/New_York', day: '2026-03-08', hours: 23, start: '2026-03-08T00:00:00-05:00', next: '2026-03-09T00:00:00-04:00' },
    { zone: 'America/New_York', day: '2026-11-01', hours: 25, start: '2026-11-01T00:00:00-04:00', next: '2026-11-02T00:00:00-05:00' },
  ];
  for (const { zone, day, hours, start, next } of clockChanges) {
    it(`${zone} ${day} has ${hours} hours, from local midnight to local midnight`, () => {
      const clock = new LocalClock(zone);
      const begins = clock.startOfDay(day);
      const ends = clock.startOfDay(LocalClock.nextDay(day));
      assert.equal(clock.iso(begins), start);
      assert.equal(clock.iso(ends), next);
      assert.equal((ends - begins) / HOUR, hours);
      assert.equal(clock.hourOf(begins - 1).day < day, true);
    });
  }

  it('keeps the two 02:00 hours of the autumn change apart, and a day with no midnight starts when it starts', () => {
    const berlin = new LocalClock('Europe/Berlin');
    const first = Date.parse('2026-10-25T00:30:00Z');
    assert.deepEqual([berlin.hourOf(first).key, berlin.hourOf(first + HOUR).key], ['2026-10-25T02:00+02:00', '2026-10-25T02:00+01:00']);
    // Santiago de Chile moved its clocks from 00:00 to 01:00 on 2026-09-06: that day begins at 01:00.
    const santiago = new LocalClock('America/Santiago');
    assert.equal(santiago.iso(santiago.startOfDay('2026-09-06')), '2026-09-06T01:00:00-03:00');
  });

  it('refuses a day that is not YYYY-MM-DD and a time zone it does not know', () => {
    assert.throws(() => new LocalClock('UTC').startOfDay('5/12/2026'), /YYYY-MM-DD/);
    assert.throws(() => new LocalClock('Mars/Olympus'), /unknown time zone "Mars\/Olympus"/);
  });
});

/** A camera's frames with the people at the given feet positions (ids firstId, firstId + 1, ...), 1 s apart from `t0`. */
function feed(service: ZoneService, cameraId: string, t0: number, frames: [number, number][][], firstId = 1): void {
  frames.forEach((people, i) => {
    const tracks: TrackObservation[] = people.map(([x, y], n) => ({ id: firstId + n, bbox: [x - 10, y - 60, x + 10, y] }));
    service.process({ cameraId, timestamp: t0 + i * 1000, width: 400, height: 400, seq: i + 1 }, tracks);
  });
}

const layout = {
  zones: [{ id: 'shelf', polygon: [[100, 100], [200, 100], [200, 200], [100, 200]] as [number, number][] }],
  lines: [{ id: 'door', from: [0, 300] as [number, number], to: [400, 300] as [number, number] }],
};
/** Into the shelf zone and out, then down across the door line: 1 entry, 1 exit of 2 s, 1 `in` crossing. */
const walk: [number, number][][] = [[[50, 150]], [[150, 150]], [[150, 160]], [[250, 150]], [[250, 280]], [[250, 320]]];

describe('export: counts per interval, zone and line', () => {
  it('adds up to the zone and line totals, per minute, hour and day, with dwell and peak where they apply', () => {
    const metrics = acquireMetrics(null, { timeZone: 'Europe/Berlin', minuteRetentionDays: 7, hourRetentionDays: 400 });
    const service = new ZoneService(layout, { trackTimeoutSeconds: 1 }, metrics, 'scope');
    // Across a minute boundary and, ten minutes later, a second camera.
    const t0 = Date.parse('2026-12-05T09:59:57Z');
    feed(service, 'entrance', t0, walk);
    feed(service, 'entrance', t0 + 30_000, walk, 2);
    feed(service, 'aisle', t0 + 600_000, walk);
    const totals = (interval: 'minute' | 'hour' | 'day', camera: string, kind: string) =>
      exportRows(metrics.collector, { interval, from: -Infinity, to: Infinity, cameras: [camera] })
        .filter((r) => r.kind === kind)
        .reduce((sum, r) => [sum[0] + r.in, sum[1] + r.out], [0, 0]);
    for (const interval of ['minute', 'hour', 'day'] as const) {
      assert.deepEqual(totals(interval, 'entrance', 'zone'), [2, 2], interval);
      assert.deepEqual(totals(interval, 'entrance', 'line'), [2, 0], interval);
      assert.deepEqual(totals(interval, 'aisle', 'zone'), [1, 1], interval);
    }
    const minutes = exportRows(metrics.collector, { interval: 'minute', from: -Infinity, to: Infinity, cameras: ['entrance'] });
    assert.deepEqual(minutes.slice(0, 2), [
      { start: '2026-12-05T10:59:00+01:00', end: '2026-12-05T11:00:00+01:00', camera: 'entrance', kind: 'line', counter: 'door', in: 0, out: 0, avgDwellSeconds: null, peakOccupancy: null, hours: null },
      { start: '2026-12-05T10:59:00+01:00', end: '2026-12-05T11:00:00+01:00', camera: 'entrance', kind: 'zone', counter: 'shelf', in: 1, out: 0, avgDwellSeconds: null, peakOccupancy: 1, hours: null },
    ]);
    assert.deepEqual(minutes.slice(2, 4).map((r) => [r.counter, r.in, r.out, r.avgDwellSeconds, r.peakOccupancy]), [['door', 2, 0, null, null], ['shelf', 1, 2, 2, 1]]);
    const days = exportRows(metrics.collector, { interval: 'day', from: -Infinity, to: Infinity });
    assert.deepEqual(days.map((r) => [r.start, r.end, r.camera, r.counter, r.in, r.out, r.avgDwellSeconds]), [
      ['2026-12-05T00:00:00+01:00', '2026-12-06T00:00:00+01:00', 'aisle', 'door', 1, 0, null],
      ['2026-12-05T00:00:00+01:00', '2026-12-06T00:00:00+01:00', 'aisle', 'shelf', 1, 1, 2],
      ['2026-12-05T00:00:00+01:00', '2026-12-06T00:00:00+01:00', 'entrance', 'door', 2, 0, null],
      ['2026-12-05T00:00:00+01:00', '2026-12-06T00:00:00+01:00', 'entrance', 'shelf', 2, 2, 2],
    ]);
    // from/to select intervals by their start.
    const later = exportRows(metrics.collector, { interval: 'minute', from: Date.parse('2026-12-05T10:00:00Z'), to: Date.parse('2026-12-05T10:01:00Z') });
    assert.deepEqual(new Set(later.map((r) => r.start)), new Set(['2026-12-05T11:00:00+01:00']));
  });

  it('writes a day of 25 hours as one row, with its hours apart', () => {
    const collector = new MetricsCollector({ timeZone: 'America/New_York' });
    const night = Date.parse('2026-11-01T05:30:00Z'); // 01:30 EDT; an hour later it is 01:30 EST
    collector.recordCount('door-cam', night, 'line:door', { in: 3 });
    collector.recordCount('door-cam', night + HOUR, 'line:door', { in: 4, out: 1 });
    const hours = exportRows(collector, { interval: 'hour', from: -Infinity, to: Infinity });
    assert.deepEqual(hours.map((r) => [r.start, r.end, r.in]), [
      ['2026-11-01T01:00:00-04:00', '2026-11-01T01:00:00-05:00', 3],
      ['2026-11-01T01:00:00-05:00', '2026-11-01T02:00:00-05:00', 4],
    ]);
    const [day] = exportRows(collector, { interval: 'day', from: -Infinity, to: Infinity });
    assert.deepEqual([day.start, day.end, day.in, day.out], ['2026-11-01T00:00:00-04:00', '2026-11-02T00:00:00-05:00', 7, 1]);
  });

  it('writes CSV a spreadsheet opens safely, and reads from/to as days, offsets or milliseconds', () => {
    const row = { start: 's', end: 'e', camera: 'cam, "front"', kind: 'zone' as const, counter: '=HYPERLINK("x")', in: 1, out: 2, avgDwellSeconds: 3.5, peakOccupancy: 4, hours: 'open' as const };
    assert.equal(
      toCsv([row, { ...row, camera: 'plain', counter: 'door', kind: 'line', avgDwellSeconds: null, peakOccupancy: null, hours: null }]),
      'start,end,camera,kind,counter,in,out,avg_dwell_seconds,peak_occupancy,hours\r\n' +
        's,e,"cam, ""front""",zone,"\'=HYPERLINK(""x"")",1,2,3.5,4,open\r\n' +
        's,e,plain,line,door,1,2,,,\r\n',
    );
    const clock = new LocalClock('Europe/Berlin');
    assert.equal(parseExportTime('2026-12-05', clock, 'from'), Date.parse('2026-12-05T00:00:00+01:00'));
    assert.equal(parseExportTime('2026-12-05T09:00:00+01:00', clock, 'from'), Date.parse('2026-12-05T08:00:00Z'));
    assert.equal(parseExportTime('2026-12-05T08:00Z', clock, 'from'), Date.parse('2026-12-05T08:00:00Z'));
    assert.equal(parseExportTime('1764921600000', clock, 'to'), 1764921600000);
    for (const bad of ['yesterday', '2026-12-05T09:00:00', '2026-13-45T99:00:00Z', '']) assert.throws(() => parseExportTime(bad, clock, 'from'), /from must be a day/);
  });

  it('keeps the counts per interval in SQLite, and gives a database from before them the column', () => {
    const database = tempDatabase();
    const old = openDatabase(database, 'CREATE TABLE minutes (series TEXT NOT NULL, start INTEGER NOT NULL, footfall INTEGER NOT NULL, occupancy_max INTEGER NOT NULL, occupancy_sum REAL NOT NULL, samples INTEGER NOT NULL, PRIMARY KEY (series, start)); CREATE TABLE hours (series TEXT NOT NULL, key TEXT NOT NULL, day TEXT NOT NULL, start INTEGER NOT NULL, footfall INTEGER NOT NULL, PRIMARY KEY (series, key)); INSERT INTO minutes VALUES (\'cam\', 0, 5, 1, 1, 1);', 'old database');
    old.close();
    const metrics = acquireMetrics(database, { timeZone: 'UTC', minuteRetentionDays: 100_000, hourRetentionDays: 100_000 });
    const service = new ZoneService(layout, { trackTimeoutSeconds: 1 }, metrics, 'scope');
    feed(service, 'cam', Date.parse('2026-12-05T10:00:00Z'), walk);
    service.close();
    metrics.release();
    const store = new MetricsStore(database);
    const restored = new MetricsCollector({ timeZone: 'UTC', minuteRetentionDays: 100_000, hourRetentionDays: 100_000 });
    restored.restore(store.read());
    store.close();
    assert.deepEqual(restored.minutes('cam')[0], { start: 0, footfall: 5, occupancyMax: 1, occupancySum: 1, samples: 1 });
    assert.deepEqual(
      exportRows(restored, { interval: 'hour', from: -Infinity, to: Infinity }).map((r) => [r.counter, r.in, r.out]),
      [['door', 1, 0], ['shelf', 1, 1]],
    );
  });

  it('carries the counts through a fleet, refusing tallies another program wrote badly', () => {
    const tally = { in: 1, out: 0, dwellSum: 0, peak: 0 };
    const bucket = { start: 0, footfall: 1, occupancyMax: 1, occupancySum: 1, samples: 1 };
    assert.deepEqual(readBucket.minute({ ...bucket, counters: { 'line:door': tally } }), { ...bucket, counters: { 'line:door': tally } });
    for (const counters of [{ 'line:door': { ...tally, in: -1 } }, { door: tally }, { 'zone:a': tally, 'line:b': 'x' }, { ['__proto__']: tally }]) {
      assert.deepEqual(readBucket.minute({ ...bucket, counters }), bucket);
    }
    const aggregate = new MetricsCollector({ timeZone: 'UTC' });
    aggregate.setCamera('remote', { minutes: [readBucket.minute({ ...bucket, counters: { 'line:door': tally } })!] });
    assert.deepEqual(exportRows(aggregate, { interval: 'minute', from: -Infinity, to: Infinity }).map((r) => [r.camera, r.counter, r.in]), [['remote', 'door', 1]]);
  });
});

describe('interval summaries', () => {
  const t0 = Date.parse('2026-12-05T10:00:30Z');
  const withSummaries = (acknowledge: boolean, database: string | null = null) => {
    const metrics = acquireMetrics(database, { timeZone: 'UTC', minuteRetentionDays: 7, hourRetentionDays: 400 });
    return { metrics, service: new ZoneService(layout, { trackTimeoutSeconds: 1, relinkSeconds: 1 }, metrics, 'scope', 256, { interval: 'minute', acknowledge, retrySeconds: 5 }) };
  };

  it('sends each minute once it has settled, with the rows of the export and a stable id', () => {
    const { service } = withSummaries(false);
    feed(service, 'cam', t0, walk);
    // The minute of t0 ends at 10:01:00; it settles the track timeout + re-link + 1 s later, in camera time.
    feed(service, 'cam', Date.parse('2026-12-05T10:01:02Z'), [[]]);
    assert.deepEqual(service.dueSummaries(t0), []);
    feed(service, 'cam', Date.parse('2026-12-05T10:01:03Z'), [[]]);
    const [summary, ...more] = service.dueSummaries(t0);
    assert.equal(more.length, 0);
    assert.deepEqual(summary, {
      id: 'cam/minute/2026-12-05T10:00:00+00:00',
      cameraId: 'cam',
      interval: 'minute',
      start: '2026-12-05T10:00:00+00:00',
      end: '2026-12-05T10:01:00+00:00',
      footfall: 1,
      footfallOutsideHours: 0,
      buyingUnits: null,
      staff: 0,
      hours: null,
      counters: [
        { kind: 'line', counter: 'door', in: 1, out: 0, avgDwellSeconds: null, peakOccupancy: null },
        { kind: 'zone', counter: 'shelf', in: 1, out: 1, avgDwellSeconds: 2, peakOccupancy: 1 },
      ],
    });
    assert.deepEqual(service.dueSummaries(t0), []);
    // A camera that stops sending frames still has its last minutes closed, by the clock.
    assert.deepEqual(service.dueSummaries(Date.parse('2026-12-05T10:02:34Z')).map((s) => s.id), ['cam/minute/2026-12-05T10:01:00+00:00']);
  });

  it('with acknowledgements, sends one at a time, again until confirmed, and skips minutes without frames', () => {
    const { service } = withSummaries(true);
    feed(service, 'cam', t0, walk);
    feed(service, 'cam', t0 + 120_000, [[]]); // 10:02:30: nothing from 10:01
    feed(service, 'cam', t0 + 240_000, [[]]); // 10:04:30
    const now = Date.parse('2026-12-05T10:04:30Z');
    const first = service.dueSummaries(now);
    assert.deepEqual(first.map((s) => s.id), ['cam/minute/2026-12-05T10:00:00+00:00']);
    assert.equal(service.summariesWaiting(), 1);
    assert.deepEqual(service.dueSummaries(now + 4000), []);
    assert.deepEqual(service.dueSummaries(now + 5000), first, 'sent again after the retry time');
    assert.equal(service.acknowledgeSummary('cam/minute/2026-12-05T10:02:00+00:00'), false);
    assert.equal(service.acknowledgeSummary(first[0].id), true);
    assert.equal(service.acknowledgeSummary(first[0].id), false, 'a second confirmation changes nothing');
    assert.deepEqual(service.dueSummaries(now + 5000).map((s) => s.id), ['cam/minute/2026-12-05T10:02:00+00:00']);
  });

  it('after a restart, sends again what was not confirmed, under the same id', () => {
    const database = tempDatabase();
    let { metrics, service } = withSummaries(true, database);
    feed(service, 'cam', t0, walk);
    feed(service, 'cam', t0 + 60_000, [[]]);
    const [sent] = service.dueSummaries(t0);
    service.flush();
    metrics.release();
    ({ metrics, service } = withSummaries(true, database));
    assert.deepEqual(service.dueSummaries(t0 + 60_000), [], 'nothing before the camera counts again');
    feed(service, 'cam', t0 + 61_000, [[]]);
    assert.deepEqual(service.dueSummaries(t0 + 61_000), [sent]);
    assert.equal(service.acknowledgeSummary(sent.id), true);
    service.close();
    metrics.release();
    ({ metrics, service } = withSummaries(true, database));
    feed(service, 'cam', t0 + 62_000, [[]]);
    assert.deepEqual(service.dueSummaries(t0 + 62_000), []);
    metrics.release();
  });

  it('refuses an interval it does not have and a retry under a second', () => {
    const collector = new MetricsCollector();
    assert.throws(() => new IntervalSummaries(collector, { interval: 'day' as 'hour', acknowledge: false, retrySeconds: 5, settleSeconds: 1 }), /per minute or per hour, not "day"/);
    assert.throws(() => new IntervalSummaries(collector, { interval: 'hour', acknowledge: true, retrySeconds: 0, settleSeconds: 1 }), /at least 1 second/);
  });

  it('loses none and changes none when the process is killed again and again (SIGKILL)', async function () {
    this.timeout(60_000);
    const worker = path.join(__dirname, 'fixtures', 'summary-worker.js');
    const directory = mkdtempSync(path.join(tmpdir(), 'summaries-'));
    const database = path.join(directory, 'metrics.db');
    const sent = path.join(directory, 'summaries.jsonl');
    const clock = [String(Date.now()), String(Date.now()), '100'];
    const run = async (lifeMs: number, signal: NodeJS.Signals) => {
      const child = fork(worker, [database, sent, ...clock], { stdio: 'ignore' });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await new Promise((resolve) => child.once('message', resolve));
      await new Promise((resolve) => setTimeout(resolve, lifeMs));
      child.kill(signal);
      await exited;
    };
    for (let kill = 0; kill < 6; kill++) await run(400 + Math.random() * 1200, 'SIGKILL');
    // The last life lasts until the scene has run 13 minutes (100 × 7.8 s), however short the random ones were.
    const sceneLeftMs = Number(clock[1]) + 7800 - Date.now();
    await run(Math.max(1500, sceneLeftMs), 'SIGTERM');

    const summaries = readFileSync(sent, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as IntervalSummary);
    const byId = new Map<string, IntervalSummary>();
    for (const summary of summaries) {
      const earlier = byId.get(summary.id);
      if (earlier) assert.deepEqual(summary, earlier, `${summary.id} sent twice with different counts`);
      byId.set(summary.id, summary);
    }
    const store = new MetricsStore(database);
    const kept = new MetricsCollector({ timeZone: 'Europe/Berlin' });
    kept.restore(store.read());
    store.close();
    const minutes = kept.minutes('cam').filter((b) => b.counters);
    const last = Math.max(...[...byId.values()].map((s) => Date.parse(s.start)));
    const expected = minutes.filter((b) => b.start <= last).map((b) => kept.clock.iso(b.start));
    assert.ok(expected.length >= 10, `only ${expected.length} minutes summarised`);
    assert.deepEqual([...byId.values()].map((s) => s.start), expected, 'every minute with counts, once, in order');
    for (const summary of byId.values()) {
      const from = Date.parse(summary.start);
      const rows = exportRows(kept, { interval: 'minute', from, to: from + MINUTE }).map(({ start: _s, end: _e, camera: _c, hours: _h, ...counter }) => counter);
      assert.deepEqual(summary.counters, rows, `${summary.id} differs from what was kept`);
    }
  });
});

describe('alerts: occupancy and queue thresholds with hysteresis and a cooldown', () => {
  const rule = (config: Record<string, unknown>, queue = false) => alertRule(config, 'till', queue);

  it('raises once on a flickering count, clears below the lower threshold, and waits out the cooldown', () => {
    const alert = new ZoneAlert(rule({ above: 10, clearBelow: 7, forSeconds: 2, cooldownSeconds: 60 }));
    const changes: string[] = [];
    const feed = (values: number[], from: number) => values.forEach((v, i) => {
      const change = alert.update(v, from + i * 1000);
      if (change) changes.push(`${change.state}@${(from + i * 1000) / 1000}:${change.value}/${change.threshold}`);
    });
    // 10 for a second only, then 10/9/10/9... for long enough: raised once, 2 s after it first held.
    feed([10, 9, 10, 10, 10, 9, 10, 9, 10, 8, 7], 0);
    assert.deepEqual(changes, ['raised@4:10/10']);
    feed([6], 11_000);
    assert.deepEqual(changes.at(-1), 'cleared@11:6/7');
    // Crowded again within the cooldown: held until 60 s after the raising, then raised if still crowded.
    feed(Array(60).fill(12), 12_000);
    assert.deepEqual(changes.slice(2), ['raised@64:12/10']);
    assert.deepEqual(alert.state(), { active: true, measure: 'occupancy', above: 10, since: 64_000 });
  });

  it('says what is wrong with an alert in a layout', () => {
    assert.deepEqual(rule({ above: 5 }), { above: 5, clearBelow: 4, measure: 'occupancy', forSeconds: 2, cooldownSeconds: 300 });
    assert.throws(() => rule({}), /zone "till": alert needs "above"/);
    assert.throws(() => rule({ above: 0 }), /"above" must be above 0/);
    assert.throws(() => rule({ above: 5, clearBelow: 5 }), /"clearBelow" \(5\) must be below "above" \(5\)/);
    assert.throws(() => rule({ above: '5' }), /"above" must be a number from 0, got "5"/);
    assert.throws(() => rule({ above: 60, measure: 'wait' }), /on the wait needs a queue zone/);
    assert.throws(() => rule({ above: 60, measure: 'length' }, true), /"measure" must be "occupancy" or "wait"/);
    assert.throws(() => alertRule([5], 'till', false), /must be an object/);
    assert.throws(() => new ZoneAnalytics({ zones: [{ id: 'z', polygon: [[0, 0], [1, 0], [1, 1]], alert: { above: -1 } }] }), /zone "z": alert "above" must be a number from 0/);
  });

  it('comes out of zone-analytics as events and in the zone statistics, and leaves the counts alone', () => {
    const square: [number, number][] = [[100, 100], [200, 100], [200, 200], [100, 200]];
    const plain = new ZoneAnalytics({ zones: [{ id: 'till', polygon: square }] }, { trackTimeoutSeconds: 0.5 });
    const alerting = new ZoneAnalytics({ zones: [{ id: 'till', polygon: square, alert: { above: 2, forSeconds: 0, cooldownSeconds: 0 } }] }, { trackTimeoutSeconds: 0.5 });
    const crowd = (n: number): TrackObservation[] => Array.from({ length: n }, (_, i) => ({ id: i + 1, bbox: [140 + i, 90, 160 + i, 150] }));
    const events: ZoneEvent[] = [];
    [1, 2, 3, 2, 1, 0].forEach((n, i) => {
      plain.update(crowd(n), i * 1000);
      events.push(...alerting.update(crowd(n), i * 1000));
    });
    const alerts = events.filter((e) => e.type === 'alert');
    assert.deepEqual(alerts, [
      { type: 'alert', zoneId: 'till', state: 'raised', measure: 'occupancy', value: 2, threshold: 2, at: 1000 },
      { type: 'alert', zoneId: 'till', state: 'cleared', measure: 'occupancy', value: 1, threshold: 1.6, at: 4000 },
    ]);
    const { alert, ...counts } = alerting.stats().zones[0];
    assert.deepEqual(counts, plain.stats().zones[0]);
    assert.deepEqual(alert, { active: false, measure: 'occupancy', above: 2, since: null });
  });

  it('reaches MQTT as a retained ON/OFF state, a Home Assistant problem sensor and an event (beside the model state, diagnostic)', () => {
    const topics = new MqttTopics({ prefix: 'retail/', throttleSeconds: 0, discoveryPrefix: 'homeassistant', instance: 'shop1', origin: { name: 'x', sw: '1', url: 'https://example.org' } });
    const zone = { id: 'till', name: 'Till', currentCount: 3, totalEntries: 3, totalExits: 0, avgDwellSeconds: null, peakCount: 3, peakAt: null, alert: { active: true, measure: 'occupancy' as const, above: 3, since: 5 } };
    const messages = topics.frame({ cameraId: 'cam', occupancy: 3, footfallToday: 3, zones: [zone], lines: [] }, 0);
    const state = messages.find((m) => m.topic === 'retail/cam/zones/till/alert');
    assert.deepEqual(state && [state.payload, state.retain], ['ON', true]);
    const device = JSON.parse(messages.find((m) => m.topic === 'homeassistant/device/retail_shop1_cam/config')!.payload);
    assert.deepEqual(
      [device.cmps.zone_till_alert.p, device.cmps.zone_till_alert.device_class, device.cmps.zone_till_alert.state_topic, device.cmps.zone_till_alert.name],
      ['binary_sensor', 'problem', 'retail/cam/zones/till/alert', 'Till crowding alert'],
    );
    const loading = topics.frame({ cameraId: 'cam', occupancy: 3, footfallToday: 3, zones: [zone], lines: [], modelState: 'loading' }, 1000);
    assert.equal(loading.find((m) => m.topic === 'retail/cam/model')?.payload, 'loading');
    const withModel = JSON.parse(loading.find((m) => m.topic === 'homeassistant/device/retail_shop1_cam/config')!.payload).cmps.model;
    assert.deepEqual([withModel.p, withModel.device_class, withModel.options, withModel.entity_category], ['sensor', 'enum', ['fetching', 'loading', 'ready', 'restarting', 'failed'], 'diagnostic']);
    const event = JSON.parse(topics.event({ type: 'alert', zoneId: 'till', state: 'raised', measure: 'occupancy', value: 3, threshold: 3, at: 5, cameraId: 'cam' }).payload);
    assert.equal(event.eventId, 'cam:zone:till:raised:alert:5');
    assert.equal('visitId' in event, false);
  });
});

describe('store calendar: opening hours', () => {
  const calendar = (hours: CalendarSettings['hours'], zone = 'Europe/Berlin', closedDays: string[] = []) => new StoreCalendar({ hours, closedDays }, new LocalClock(zone));
  /** Minutes the store is open on a local day, counted minute by minute in real time. */
  const openMinutes = (store: StoreCalendar, day: string) => {
    let open = 0;
    for (let at = store.clock.startOfDay(day); at < store.clock.startOfDay(LocalClock.nextDay(day)); at += MINUTE) if (store.isOpen(at)) open++;
    return open;
  };

  for (const [zone, spring, autumn] of [['Europe/Berlin', '2026-03-29', '2026-10-25'], ['America/New_York', '2026-03-08', '2026-11-01']]) {
    it(`opens by the local clock in ${zone} on both clock-change days (Sundays 01:00-04:00: 2 hours in spring, 4 in autumn)`, () => {
      const store = calendar({ sun: '01:00-04:00', mon: '09:00-20:00' }, zone);
      assert.equal(openMinutes(store, spring), 120);
      assert.equal(openMinutes(store, autumn), 240);
      assert.equal(openMinutes(store, LocalClock.nextDay(spring)), 11 * 60);
      assert.equal(store.coverage(store.clock.startOfDay(spring), store.clock.startOfDay(LocalClock.nextDay(spring))), 'partly');
    });
  }

  it('keeps several ranges a day, ranges past midnight, 24:00, and closed days', () => {
    const store = calendar({ fri: '09:00-12:30, 14:00-24:00', sat: '18:00-02:00' }, 'UTC', ['2026-12-25']);
    const at = (iso: string) => Date.parse(`${iso}Z`);
    assert.deepEqual(
      ['2026-12-04T08:59', '2026-12-04T09:00', '2026-12-04T12:30', '2026-12-04T14:00', '2026-12-04T23:59', '2026-12-05T17:59', '2026-12-05T18:00', '2026-12-06T01:59', '2026-12-06T02:00'].map((t) => store.isOpen(at(t))),
      [false, true, false, true, true, false, true, true, false],
    );
    // Christmas is a Friday: closed all day, but the Saturday night range of the day before still runs into it.
    assert.equal(store.isOpen(at('2026-12-25T10:00')), false);
    assert.equal(calendar({ thu: '20:00-02:00' }, 'UTC', ['2026-12-25']).isOpen(at('2026-12-25T01:00')), true);
    assert.equal(store.closedBetween(at('2026-12-04T12:00'), at('2026-12-04T12:29')), false);
    assert.equal(store.closedBetween(at('2026-12-04T12:00'), at('2026-12-04T12:31')), true);
    assert.deepEqual([store.coverage(at('2026-12-04T10:00'), at('2026-12-04T11:00')), store.coverage(at('2026-12-04T12:00'), at('2026-12-04T13:00')), store.coverage(at('2026-12-04T13:00'), at('2026-12-04T13:30'))], ['open', 'partly', 'closed']);
  });

  it('says what is wrong with hours a user wrote', () => {
    assert.throws(() => calendar({ mon: '9-17' }), /opening hours of mon: "9" is not a time from 00:00 to 24:00/);
    assert.throws(() => calendar({ mon: '09:00' }), /"09:00" must be written HH:MM-HH:MM/);
    assert.throws(() => calendar({ mon: '09:00-09:00' }), /opens and closes at the same time/);
    assert.throws(() => calendar({ mon: '09:00-24:30' }), /"24:30" is not a time/);
    assert.throws(() => calendar({ monday: '09:00-17:00' } as CalendarSettings['hours']), /"monday" is not a weekday/);
    assert.throws(() => calendar({}, 'UTC', ['25.12.2026']), /closed day "25.12.2026" must be a date written YYYY-MM-DD/);
  });

  it('ends the visits under way at closing, counts footfall after it apart, and marks the export', () => {
    const hours = calendarKey({ hours: { sat: '09:00-20:00' } });
    const metrics = acquireMetrics(null, { timeZone: 'UTC', minuteRetentionDays: 7, hourRetentionDays: 400, calendar: hours });
    const service = new ZoneService(layout, { trackTimeoutSeconds: 60 }, metrics, 'scope');
    // Saturday 2026-12-05: one person in the zone just before 20:00 and still there after; one walks in through
    // the door just before closing, another just after.
    feed(service, 'cam', Date.parse('2026-12-05T19:59:57Z'), [[[150, 150], [250, 280]], [[150, 150], [250, 320]]]);
    const closing = service.process({ cameraId: 'cam', timestamp: Date.parse('2026-12-05T20:00:01Z') }, [{ id: 1, bbox: [140, 90, 160, 150] }]).events;
    assert.deepEqual(
      closing.map((e) => [e.type, e.type === 'exit' ? e.reason : '', e.at]),
      [['exit', 'closing', Date.parse('2026-12-05T19:59:58Z')], ['enter', '', Date.parse('2026-12-05T20:00:01Z')]],
      'the visit ends at closing; the person still there starts a new one',
    );
    feed(service, 'cam', Date.parse('2026-12-05T20:01:00Z'), [[[50, 280]], [[50, 320]]], 7);
    assert.equal(metrics.collector.footfallOn('2026-12-05', 'cam'), 1, 'the crossing before closing');
    assert.equal(metrics.collector.extraOn('outsideHours', '2026-12-05', 'cam'), 1, 'the crossing after closing');
    const hourly = exportRows(metrics.collector, { interval: 'hour', from: -Infinity, to: Infinity }).map((r) => [r.start.slice(11, 16), r.counter, r.in, r.out, r.hours]);
    assert.deepEqual(hourly, [['19:00', 'door', 1, 0, 'open'], ['19:00', 'shelf', 1, 1, 'open'], ['20:00', 'door', 1, 0, 'closed'], ['20:00', 'shelf', 1, 0, 'closed']]);
  });

  it('ends them by the clock when the camera sends nothing at closing', () => {
    const metrics = acquireMetrics(null, { timeZone: 'UTC', minuteRetentionDays: 7, hourRetentionDays: 400, calendar: calendarKey({ hours: { sat: '09:00-20:00' } }) });
    const service = new ZoneService(layout, { trackTimeoutSeconds: 3600 }, metrics, 'scope');
    feed(service, 'cam', Date.parse('2026-12-05T19:30:00Z'), [[[150, 150]]]);
    assert.deepEqual(service.tick(Date.parse('2026-12-05T19:59:59Z')), []);
    const ended = service.tick(Date.parse('2026-12-05T20:00:00Z'));
    assert.deepEqual(ended.map((e) => [e.type, e.type === 'exit' && e.reason, e.cameraId]), [['exit', 'closing', 'cam']]);
    assert.deepEqual(service.tick(Date.parse('2026-12-06T09:00:00Z')), []);
  });
});

describe('buying units: people who come in together', () => {
  const person = (at: number, x: number, height = 100) => ({ at, position: [x, 300] as [number, number], height });

  it('groups entries close in time and place, nearest first, and leaves the rest alone', () => {
    const units = new BuyingUnits({ seconds: 3, distance: 1.5 });
    const seen = [
      person(0, 100), // a family of three, side by side within two seconds
      person(1000, 180),
      person(2000, 260),
      person(2500, 700), // someone at the far end of the door at the same time
      person(8000, 110), // a shopper alone, later
      person(8200, 900, 50), // someone else 790 px away at the same moment: alone
    ].map((entry) => units.enter(entry));
    assert.deepEqual(seen.map((u) => u.unit), [1, 1, 1, 2, 3, 4]);
    assert.deepEqual(seen.map((u) => u.starts), [true, false, false, true, true, true]);
    assert.throws(() => new BuyingUnits({ seconds: 0, distance: 1 }), /above 0 and at most 60 seconds, got 0/);
    assert.throws(() => new BuyingUnits({ seconds: 3, distance: 50 }), /at most 20 box heights, got 50/);
  });

  it('counts units beside footfall, marks the entries, and lets conversion use them; off, nothing changes', () => {
    const doorLayout = { lines: [{ id: 'door', from: [0, 300] as [number, number], to: [800, 300] as [number, number] }] };
    const t0 = Date.parse('2026-12-05T10:00:00Z');
    // A couple crossing together, then a shopper alone 10 s later.
    const crossings: [number, [number, number][][]][] = [
      [t0, [[[100, 280], [160, 280]], [[100, 320], [160, 320]]]],
      [t0 + 10_000, [[[500, 280]], [[500, 320]]]],
    ];
    const run = (grouping: boolean) => {
      const metrics = acquireMetrics(null, { timeZone: 'UTC', minuteRetentionDays: 7, hourRetentionDays: 400 });
      const service = new ZoneService(doorLayout, {}, metrics, 'scope', 256, undefined, grouping ? { seconds: 3, distance: 1.5 } : null);
      const marks: (number | undefined)[] = [];
      crossings.forEach(([at, frames], n) =>
        frames.forEach((people, i) => {
          const tracks = people.map(([x, y], k): TrackObservation => ({ id: n * 10 + k + 1, bbox: [x - 15, y - 100, x + 15, y] }));
          marks.push(...service.process({ cameraId: 'door', timestamp: at + i * 500 }, tracks).events.map((e) => e.buyingUnit));
        }),
      );
      return { collector: metrics.collector, marks };
    };
    const grouped = run(true);
    assert.deepEqual(grouped.marks, [1, 1, 2]);
    assert.deepEqual([grouped.collector.footfallOn('2026-12-05', 'door'), grouped.collector.extraOn('units', '2026-12-05', 'door')], [3, 2]);
    assert.equal(grouped.collector.extraOn('units', '2026-12-05'), 2, 'all cameras together');
    const plain = run(false);
    assert.deepEqual(plain.marks, [undefined, undefined, undefined]);
    assert.deepEqual(plain.collector.hours('door').map((h) => [h.footfall, h.units]), [[3, undefined]]);

    const ledger = new SalesLedger(':memory:', { timeZone: 'UTC', retentionDays: 400, footfallCamera: 'door', visitors: 'units' });
    ledger.record([{ id: 'R-1', at: t0 + 60_000, amount: 10 }]);
    const report = conversionReport(ledger, grouped.collector, '2026-12-05');
    assert.deepEqual([report.visitors, report.total.footfall, report.total.conversionRate], ['units', 2, 0.5]);
    ledger.close();
  });
});

describe('staff exclusion: staff zones and staff-only lines', () => {
  // A door line across the bottom (walking down is "in"), a till queue, a staff zone behind the counter, and the
  // stock-room door on the right (staff only).
  const store = {
    zones: [
      { id: 'queue', queue: true, polygon: [[100, 100], [300, 100], [300, 200], [100, 200]] as [number, number][] },
      { id: 'counter', exclusion: { seconds: 20 }, polygon: [[100, 0], [300, 0], [300, 80], [100, 80]] as [number, number][] },
    ],
    lines: [
      { id: 'door', from: [0, 300] as [number, number], to: [800, 300] as [number, number] },
      { id: 'stock', from: [700, 0] as [number, number], to: [700, 200] as [number, number], staffOnly: true },
    ],
  };
  const t0 = Date.parse('2026-12-05T10:00:00Z');
  const at = (person: number, [x, y]: [number, number]): TrackObservation => ({ id: person, bbox: [x - 10, y - 60, x + 10, y] });
  /** Frames one second apart from `t0 + from` s, each with the people at their feet positions. */
  const walk = (service: ZoneService, from: number, frames: [number, [number, number]][][]) =>
    frames.flatMap((people, i) => service.process({ cameraId: 'till', timestamp: t0 + (from + i) * 1000 }, people.map(([id, p]) => at(id, p))).events);

  it('takes back the footfall of someone who stays behind the counter, and leaves them out of dwell and the queue', () => {
    const metrics = acquireMetrics(null, { timeZone: 'UTC', minuteRetentionDays: 7, hourRetentionDays: 400 });
    const service = new ZoneService(store, { trackTimeoutSeconds: 5 }, metrics, 'scope');
    // Person 1 comes in through the door, goes to the queue, then behind the counter for 25 s, then back into the queue.
    // Person 2, a customer, comes in, queues 10 s and leaves the queue; person 3 is behind the counter only 10 s.
    const events = [
      ...walk(service, 0, [[[1, [200, 280]], [2, [400, 280]]], [[1, [200, 320]], [2, [400, 320]]]]),
      ...walk(service, 2, [[[1, [200, 150]], [2, [200, 160]], [3, [150, 50]]]]),
      ...walk(service, 3, Array.from({ length: 25 }, (_, i) => [[1, [200, 50]], ...(i < 10 ? [[2, [210, 160]], [3, [150, 50]]] : [[2, [400, 160]]]) as [number, [number, number]][]])),
      ...walk(service, 28, [[[1, [200, 150]]], [[1, [200, 150]]]]),
    ];
    const staff = events.filter((e) => e.type === 'staff');
    assert.equal(staff.length, 1);
    assert.deepEqual(
      staff.map((e) => e.type === 'staff' && [e.trackId, e.zoneId, e.footfallAt]),
      [[1, 'counter', [t0 + 1000]]],
    );
    assert.match(staff[0].type === 'staff' ? staff[0].reason : '', /spent 2[01] s in the staff zone "counter" \(more than 20 s\)/);
    assert.equal(metrics.collector.footfallOn('2026-12-05', 'till'), 1, 'only the customer is footfall');
    assert.equal(metrics.collector.extraOn('staff', '2026-12-05', 'till'), 1);
    const { zones } = service.process({ cameraId: 'till', timestamp: t0 + 30_000 }, [at(1, [200, 150])]);
    const queue = zones.find((z) => z.id === 'queue')!;
    assert.deepEqual([queue.currentCount, queue.queue?.length, queue.staff], [1, 0, { inside: 1, entries: 1 }], 'staff in the queue zone are not waiting');
    assert.equal(queue.avgDwellSeconds, 6, 'the customer\'s 11 s and the staff member\'s first 1 s, a stay that ended before they were known as staff');
    const reentry = events.filter((e) => e.type === 'enter' && e.zoneId === 'queue' && e.trackId === 1);
    assert.deepEqual(reentry.map((e) => e.type === 'enter' && e.staff), [undefined, true]);
  });

  it('makes anyone crossing a staff-only line staff at once, and says what is wrong in a layout', () => {
    const metrics = acquireMetrics(null, { timeZone: 'UTC', minuteRetentionDays: 7, hourRetentionDays: 400 });
    const service = new ZoneService(store, {}, metrics, 'scope');
    const events = walk(service, 0, [[[5, [680, 100]]], [[5, [720, 100]]], [[5, [720, 280]]], [[5, [400, 280]]], [[5, [400, 320]]]]);
    assert.deepEqual(events.map((e) => [e.type, 'staff' in e ? e.staff : undefined]), [['cross', true], ['staff', undefined], ['cross', true]]);
    assert.equal(events[1].type === 'staff' && events[1].reason, 'crossed the staff-only line "stock"');
    assert.equal(metrics.collector.footfallOn('2026-12-05', 'till'), 0);
    const bad = (zones: unknown[], lines: unknown[] = []) => () => new ZoneAnalytics({ zones, lines } as ZoneLayout);
    assert.throws(bad([{ id: 'c', polygon: [[0, 0], [1, 0], [1, 1]], exclusion: 20 }]), /zone "c": "exclusion" must be an object \{"seconds": N\}/);
    assert.throws(bad([{ id: 'c', polygon: [[0, 0], [1, 0], [1, 1]], exclusion: { seconds: -1 } }]), /exclusion "seconds" must be from 0 to 3600, got -1/);
    assert.throws(bad([], [{ id: 'd', from: [0, 0], to: [1, 1], staffOnly: true, footfall: true }]), /a staff-only line cannot count footfall/);
  });

  it('changes nothing where no staff zone or staff-only line is set', () => {
    const plain = { zones: [store.zones[0]], lines: [store.lines[0]] };
    const analytics = new ZoneAnalytics(plain);
    const events = [0, 1, 2].flatMap((i) => analytics.update([at(1, [[200, 280], [200, 320], [200, 150]][i] as [number, number])], t0 + i * 1000));
    assert.equal(events.some((e) => 'staff' in e), false);
    assert.equal('staff' in analytics.stats().zones[0], false);
    assert.equal('staffEntries' in (analytics.totals('redeploy')['zone:queue'] as object), false);
  });
});
