import { strict as assert } from 'node:assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ALL_CAMERAS, MetricsCollector } from '../src/metrics/collector';
import { LocalClock } from '../src/metrics/local-time';
import { acquireMetrics } from '../src/metrics/shared';
import { MetricsStore } from '../src/metrics/store';

const utc = (iso: string) => Date.parse(iso);
const minuteOf = (at: number) => Math.floor(at / 60_000) * 60_000;

describe('LocalClock', () => {
  it("files instants under the store's local hour and day", () => {
    const paris = new LocalClock('Europe/Paris');
    assert.deepEqual(paris.hourOf(utc('2026-11-28T22:59:30Z')), { key: '2026-11-28T23:00+01:00', day: '2026-11-28', start: utc('2026-11-28T22:00:00Z') });
    // Past midnight in Paris while it is still the 28th in UTC.
    assert.equal(paris.hourOf(utc('2026-11-28T23:10:00Z')).day, '2026-11-29');
    // Half-hour offsets start their hours at :30 UTC.
    assert.equal(new LocalClock('Asia/Kolkata').hourOf(utc('2026-11-28T10:45:00Z')).start, utc('2026-11-28T10:30:00Z'));
  });

  it('keeps the two 02:00 hours of an autumn clock change apart and skips the missing spring hour', () => {
    const paris = new LocalClock('Europe/Paris');
    // 25 October 2026: 03:00 CEST becomes 02:00 CET.
    assert.equal(paris.hourOf(utc('2026-10-25T00:30:00Z')).key, '2026-10-25T02:00+02:00');
    assert.equal(paris.hourOf(utc('2026-10-25T01:30:00Z')).key, '2026-10-25T02:00+01:00');
    // 29 March 2026: 02:00 CET becomes 03:00 CEST; 01:30Z is 03:30 local.
    assert.equal(paris.hourOf(utc('2026-03-29T00:30:00Z')).key, '2026-03-29T01:00+01:00');
    assert.equal(paris.hourOf(utc('2026-03-29T01:30:00Z')).key, '2026-03-29T03:00+02:00');
  });

  it('refuses an unknown time zone', () => {
    assert.throws(() => new LocalClock('Mars/Olympus'), /unknown time zone "Mars\/Olympus"/);
  });
});

describe('MetricsCollector', () => {
  it('buckets footfall by minute and by local hour, per camera and for all cameras', () => {
    const metrics = new MetricsCollector({ timeZone: 'Europe/Paris' });
    metrics.recordFootfall('door', utc('2026-11-28T22:50:10Z'));
    metrics.recordFootfall('door', utc('2026-11-28T22:50:50Z'));
    metrics.recordFootfall('back', utc('2026-11-28T23:05:00Z'));
    assert.deepEqual(metrics.minutes('door').map((b) => [new Date(b.start).toISOString(), b.footfall]), [['2026-11-28T22:50:00.000Z', 2]]);
    assert.deepEqual(metrics.hours().map((b) => [b.key, b.footfall]), [['2026-11-28T23:00+01:00', 2], ['2026-11-29T00:00+01:00', 1]]);
    assert.equal(metrics.footfallOn('2026-11-28'), 2);
    assert.equal(metrics.footfallOn('2026-11-29'), 1);
    assert.equal(metrics.footfallOn('2026-11-29', 'door'), 0);
    assert.deepEqual(metrics.cameras().sort(), ['back', 'door']);
  });

  it('counts the two autumn 02:00 hours separately', () => {
    const metrics = new MetricsCollector({ timeZone: 'Europe/Paris' });
    for (const at of ['2026-10-25T00:10:00Z', '2026-10-25T00:20:00Z', '2026-10-25T01:10:00Z']) metrics.recordFootfall('door', utc(at));
    assert.deepEqual(metrics.hours('door').map((b) => [b.key, b.footfall]), [['2026-10-25T02:00+02:00', 2], ['2026-10-25T02:00+01:00', 1]]);
    assert.equal(metrics.footfallOn('2026-10-25', 'door'), 3);
  });

  it('adds the latest occupancy of every camera for the total, and keeps peaks with their time and day', () => {
    const metrics = new MetricsCollector({ timeZone: 'UTC' });
    const t = utc('2026-11-28T10:00:00Z');
    metrics.recordOccupancy('a', t, 3);
    metrics.recordOccupancy('b', t + 1000, 4);
    metrics.recordOccupancy('a', t + 2000, 1);
    assert.deepEqual(metrics.peak(ALL_CAMERAS), { count: 7, at: t + 1000 });
    assert.deepEqual(metrics.peak('a'), { count: 3, at: t });
    const [minute] = metrics.minutes();
    assert.deepEqual([minute.occupancyMax, minute.samples, minute.occupancySum], [7, 3, 3 + 7 + 5]);
    assert.deepEqual(metrics.peakOn('2026-11-28'), { day: '2026-11-28', peak: 7, peakAt: t + 1000 });
  });

  it('refuses a retention that is not a positive number of days', () => {
    assert.throws(() => new MetricsCollector({ minuteRetentionDays: 0 }), /minuteRetentionDays must be a positive number of days/);
  });

  it('drops minutes after 7 days and hours after 400 days', () => {
    const metrics = new MetricsCollector({ timeZone: 'UTC' });
    const start = utc('2026-01-01T12:00:00Z');
    metrics.recordFootfall('door', start);
    metrics.recordOccupancy('door', start + 8 * 86_400_000, 1);
    assert.equal(metrics.minutes('door').length, 1, 'only the recent minute remains');
    assert.equal(metrics.hours('door').length, 1, 'the hour is kept');
    metrics.recordOccupancy('door', start + 401 * 86_400_000, 1);
    assert.equal(metrics.hours('door').length, 0);
    assert.equal(metrics.footfallOn('2026-01-01', 'door'), 0, 'nor is it found by its day');
  });

  it('takes another store\'s buckets of a camera as they are: the same twice changes nothing, the total follows', () => {
    const worker = new MetricsCollector({ timeZone: 'UTC' });
    const at = utc('2026-11-29T09:10:00Z');
    worker.recordFootfall('door', at, 3);
    worker.recordOccupancy('door', at, 2);
    const central = new MetricsCollector({ timeZone: 'UTC' });
    const rows = () => ({ minutes: worker.minutes('door'), hours: worker.hours('door'), days: [worker.peakOn('2026-11-29', 'door')!] });
    central.setCamera('w1-door', rows());
    central.setCamera('w1-door', rows());
    central.setCamera('w2-door', { hours: [{ key: '2026-11-29T10:00+00:00', day: '2026-11-29', start: utc('2026-11-29T10:00:00Z'), footfall: 4 }] });
    assert.equal(central.footfallOn('2026-11-29', 'w1-door'), 3);
    assert.equal(central.footfallOn('2026-11-29'), 7);
    assert.deepEqual(central.minutes().map((m) => m.footfall), [3]);
    assert.deepEqual(central.peakOn('2026-11-29', 'w1-door'), { day: '2026-11-29', peak: 2, peakAt: at });
    // A worker whose count went down (its database reset) is followed down, the total with it.
    central.setCamera('w1-door', { hours: [{ ...worker.hours('door')[0], footfall: 1 }] });
    assert.equal(central.footfallOn('2026-11-29'), 5);
    central.recordTotalOccupancy(at, 6);
    assert.deepEqual(central.peakOn('2026-11-29'), { day: '2026-11-29', peak: 6, peakAt: at });
    assert.throws(() => central.setCamera(ALL_CAMERAS, {}), /reserved/);
  });

  it('hands every change to each of its readers once, whatever its time, and forgets pruned buckets', () => {
    const metrics = new MetricsCollector({ timeZone: 'UTC' });
    const now = Date.now();
    const store = metrics.followChanges();
    const publisher = metrics.followChanges((series) => series !== ALL_CAMERAS);
    metrics.recordFootfall('door', now);
    // A late frame, from a day before: as much a change as the current one.
    metrics.recordFootfall('door', now - 86_400_000);
    metrics.recordOccupancy('till', now, 2);
    const door = publisher.take('door');
    assert.deepEqual(door.minutes.map((m) => [m.start, m.footfall]).sort((a, b) => a[0] - b[0]), [[minuteOf(now - 86_400_000), 1], [minuteOf(now), 1]]);
    assert.deepEqual(door.hours.map((h) => h.footfall), [1, 1]);
    assert.deepEqual(publisher.take('door'), { minutes: [], hours: [], days: [] }, 'taken once');
    assert.deepEqual(publisher.take(ALL_CAMERAS), { minutes: [], hours: [], days: [] }, 'a series the reader does not follow');
    assert.deepEqual(publisher.take('till').days, [{ day: metrics.dayOf(now), peak: 2, peakAt: now }]);
    // The other reader still has everything, with the values of when it takes them.
    metrics.recordFootfall('door', now, 2);
    const all = store.takeAll();
    assert.deepEqual(all.minutes.filter((m) => m.series === 'door').map((m) => m.bucket.footfall).sort((a, b) => a - b), [1, 3]);
    assert.deepEqual(all.hours.map((h) => h.series).sort(), [ALL_CAMERAS, ALL_CAMERAS, 'door', 'door']);
    assert.deepEqual(all.days.map((d) => d.series).sort(), [ALL_CAMERAS, 'till']);
    assert.deepEqual(store.takeAll().minutes, []);
    assert.deepEqual(publisher.take('door').minutes.map((m) => m.footfall), [3]);

    // Changed, never taken, then past retention: gone from the reader as from the collector.
    metrics.recordFootfall('door', now - 86_400_000);
    metrics.recordOccupancy('door', now + 8 * 86_400_000, 1);
    assert.deepEqual(publisher.take('door').minutes.map((m) => m.start), [minuteOf(now + 8 * 86_400_000)]);
    assert.equal(store.takeAll().minutes.some((m) => m.bucket.start < now), false);
    publisher.close();
    metrics.recordFootfall('door', now + 8 * 86_400_000);
    assert.deepEqual(publisher.take('door'), { minutes: [], hours: [], days: [] }, 'a closed reader collects nothing');
    assert.equal(store.takeAll().minutes.length, 2);
  });
});

describe('MetricsStore', () => {
  it('writes what changed and restores it after a restart', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'metrics-')), 'metrics.db');
    const t = utc('2026-11-28T10:00:00Z');
    const before = new MetricsCollector({ timeZone: 'Europe/Paris' });
    const changes = before.followChanges();
    before.recordFootfall('door', t);
    before.recordOccupancy('door', t, 5);
    const store = new MetricsStore(file);
    store.write(changes.takeAll());
    before.recordFootfall('door', t + 3_600_000);
    store.write(changes.takeAll());
    store.saveCounters('node-1', { door: { 'zone:entrance': { entries: 12 } } });
    store.close();

    const reopened = new MetricsStore(file);
    const after = new MetricsCollector({ timeZone: 'Europe/Paris' });
    after.restore(reopened.read());
    assert.deepEqual(after.hours('door'), before.hours('door'));
    assert.deepEqual(after.minutes(), before.minutes());
    assert.deepEqual(after.peak(), before.peak());
    assert.deepEqual(reopened.loadCounters('node-1'), { door: { 'zone:entrance': { entries: 12 } } });
    reopened.close();
  });

  it('shares one collector per file and refuses a second time zone, retention or calendar for it', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'metrics-')), 'metrics.db');
    const options = { timeZone: 'UTC', minuteRetentionDays: 7, hourRetentionDays: 400 };
    const a = acquireMetrics(file, options);
    const b = acquireMetrics(file, options);
    assert.equal(a.collector, b.collector);
    assert.throws(() => acquireMetrics(file, { ...options, timeZone: 'Europe/Paris' }), /already used with timeZone UTC; nodes sharing a database need the same time zone, retention and store calendar/);
    assert.throws(() => acquireMetrics(file, { ...options, hourRetentionDays: 30 }), /hourRetentionDays 400/);
    assert.throws(() => acquireMetrics(file, { ...options, calendar: '{"hours":{}}' }), /already used with other opening hours \(no store calendar\); nodes sharing a database need the same store calendar/);
    assert.notEqual(acquireMetrics(null, options).collector, acquireMetrics(null, options).collector, 'in-memory metrics are never shared');
    a.release();
    b.release();
    const notAFolder = path.join(path.dirname(file), 'metrics.db');
    assert.throws(() => new MetricsStore(path.join(notAFolder, 'inner', 'metrics.db')), /cannot open the metrics database/);
  });
});
