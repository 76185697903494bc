import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MetricsCollector } from '../src/metrics/collector';
import { conversionReport } from '../src/sales/conversion';
import { acquireSales, peekSales, SalesLedger } from '../src/sales/ledger';
import { parseTransactions } from '../src/sales/transactions';

const NOW = Date.parse('2026-11-28T15:30:00Z');
const options = { timeZone: 'Europe/Paris', retentionDays: 400, footfallCamera: '' };

describe('parseTransactions', () => {
  it('reads one transaction, an array, a { transactions } wrapper and JSON text', () => {
    assert.deepEqual(parseTransactions({ id: 'A1', timestamp: '2026-11-28T14:05:00Z', amount: 12.5 }, { now: NOW }), [{ id: 'A1', at: Date.parse('2026-11-28T14:05:00Z'), amount: 12.5 }]);
    assert.deepEqual(parseTransactions([{ id: 7, timestamp: NOW - 1000, amount: '3.20' }, { id: 'B' }], { now: NOW }), [
      { id: '7', at: NOW - 1000, amount: 3.2 },
      { id: 'B', at: NOW, amount: null },
    ]);
    assert.equal(parseTransactions({ transactions: [{ id: 'x' }, { id: 'y' }] }, { now: NOW }).length, 2);
    assert.deepEqual(parseTransactions('{"id":"J","amount":1}', { now: NOW }), [{ id: 'J', at: NOW, amount: 1 }]);
  });

  it('needs a receipt id, so that a resent sale counts once', () => {
    assert.throws(() => parseTransactions([{ id: 'A' }, { amount: 1 }], { now: NOW }), /transaction 2: id is missing; give the receipt number/);
  });

  it('refuses the whole batch and says which transaction is wrong', () => {
    assert.throws(() => parseTransactions([{ id: 1 }, { id: 2, amount: -4 }], { now: NOW }), /transaction 2: amount -4 must be a number from 0 to 10000000/);
    assert.throws(() => parseTransactions({ id: 1, timestamp: 'yesterday' }, { now: NOW }), /transaction: timestamp "yesterday" is neither/);
    assert.throws(() => parseTransactions({ id: 1, timestamp: NOW + 3_600_000 }, { now: NOW }), /is in the future/);
    assert.throws(() => parseTransactions([], { now: NOW }), /no transactions/);
    assert.throws(() => parseTransactions([{ id: 1 }, 'sale'], { now: NOW }), /transaction 2 is not an object/);
    assert.throws(() => parseTransactions('{"id":', { now: NOW }), /not valid JSON/);
    assert.throws(() => parseTransactions({ id: { nested: true } }, { now: NOW }), /id must be the receipt number/);
  });
});

describe('parseTransactions on hostile and careless input (issue 12)', () => {
  const refused = (payload: unknown, pattern: RegExp) => assert.throws(() => parseTransactions(payload, { now: NOW, retentionDays: 400 }), pattern);

  it('refuses junk instead of storing it as a sale with an id of its own', () => {
    refused('', /no transactions: the message is empty/);
    refused(Buffer.from('  '), /no transactions: the message is empty/);
    refused({}, /transaction: id is missing/);
    refused({ transactions: null }, /"transactions" must be an array/);
    refused({ transactions: { id: 'X' } }, /"transactions" must be an array/);
    let deep: unknown = { id: 'D' };
    for (let i = 0; i < 50_000; i++) deep = { next: deep };
    refused(deep, /transaction: id is missing/);
    refused(null, /no transactions: send an object/);
    refused(42, /no transactions: send an object/);
  });

  it('refuses dates outside what is kept, and amounts that are not plausible money, naming the field', () => {
    refused({ id: 'A', timestamp: 0 }, /transaction: timestamp 1970-01-01T00:00:00.000Z is older than the 400 days sales are kept/);
    refused({ id: 'A', timestamp: '1900-01-01T00:00:00Z' }, /older than the 400 days/);
    refused({ id: 'A', timestamp: Math.floor(NOW / 1000) }, /older than the 400 days sales are kept \(seconds instead of milliseconds\?\)/);
    refused({ id: 'A', timestamp: -1e20 }, /transaction: timestamp -100000000000000000000 is neither an ISO 8601 date nor milliseconds/);
    refused({ id: 'A', amount: 1e308 }, /transaction: amount 1e\+308 must be a number from 0 to 10000000/);
    refused({ id: 'A', amount: '0x10' }, /transaction: amount "0x10" must be a number/);
    refused({ id: 'A', amount: '1e3' }, /amount "1e3" must be a number/);
    refused({ id: 'A', amount: NaN }, /transaction: amount null must be a number from 0/);
    assert.equal(parseTransactions({ id: 'A', amount: ' 12.50 ' }, { now: NOW })[0].amount, 12.5);
  });
});

describe('SalesLedger', () => {
  it('stores nothing of a refused batch, so a till retrying after the error is not told "duplicate" (issue 12)', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'sales-')), 'metrics.db');
    const ledger = new SalesLedger(file, options);
    const batch = [{ id: 'REPRO-2', amount: 3 }, { id: 'REPRO-3', timestamp: -1e20, amount: 4 }];
    assert.throws(() => ledger.record(parseTransactions(batch, { now: NOW, retentionDays: 400 }), NOW), /transaction 2: timestamp/);
    assert.deepEqual(ledger.record(parseTransactions([batch[0]], { now: NOW }), NOW), { accepted: 1, duplicates: 0 });
    // The ledger itself checks a whole batch before writing any of it, whatever reached it.
    assert.throws(() => ledger.record([{ id: 'OK', at: NOW, amount: 1 }, { id: 'BAD', at: -1e20, amount: 1 }], NOW), /Invalid time value/);
    assert.deepEqual(ledger.record([{ id: 'OK', at: NOW, amount: 1 }], NOW), { accepted: 1, duplicates: 0 });
    ledger.close();
  });

  it('counts a transaction sent twice once, per local hour, and keeps sales across restarts', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'sales-')), 'metrics.db');
    const ledger = new SalesLedger(file, options);
    const sales = parseTransactions(
      [
        { id: 'T1', timestamp: '2026-11-28T13:10:00Z', amount: 10 },
        { id: 'T2', timestamp: '2026-11-28T13:50:00Z', amount: 30 },
        { id: 'T3', timestamp: '2026-11-28T14:20:00Z' },
      ],
      { now: NOW },
    );
    assert.deepEqual(ledger.record(sales, NOW), { accepted: 3, duplicates: 0 });
    assert.deepEqual(ledger.record(sales.slice(1), NOW), { accepted: 0, duplicates: 2 });
    const expected = [
      { key: '2026-11-28T14:00+01:00', day: '2026-11-28', start: Date.parse('2026-11-28T13:00:00Z'), transactions: 2, withAmount: 2, revenue: 40 },
      { key: '2026-11-28T15:00+01:00', day: '2026-11-28', start: Date.parse('2026-11-28T14:00:00Z'), transactions: 1, withAmount: 0, revenue: 0 },
    ];
    assert.deepEqual(ledger.hoursOf('2026-11-28'), expected);
    ledger.close();

    const reopened = new SalesLedger(file, options);
    assert.deepEqual(reopened.hoursOf(), expected);
    assert.deepEqual(reopened.record(sales, NOW), { accepted: 0, duplicates: 3 }, 'ids are remembered across restarts');
    reopened.close();
  });

  it('says which file it cannot open', () => {
    const notAFolder = path.join(mkdtempSync(path.join(tmpdir(), 'sales-')), 'file');
    writeFileSync(notAFolder, '');
    assert.throws(() => new SalesLedger(path.join(notAFolder, 'metrics.db'), options), /cannot open the sales database .*file\/metrics.db/);
    assert.throws(() => new SalesLedger(':memory:', { ...options, timeZone: 'Mars/Olympus' }), /unknown time zone "Mars\/Olympus"/);
  });

  it('deletes sales past retention', () => {
    const ledger = new SalesLedger(':memory:', { ...options, retentionDays: 1 });
    ledger.record([{ id: 'old', at: NOW - 3 * 86_400_000, amount: 1 }], NOW - 3 * 86_400_000);
    ledger.record([{ id: 'new', at: NOW, amount: 1 }], NOW);
    assert.deepEqual(ledger.hoursOf().map((h) => h.transactions), [1]);
    assert.deepEqual(ledger.record([{ id: 'old', at: NOW - 3 * 86_400_000, amount: 1 }], NOW).accepted, 1, 'the old id is forgotten with its sale');
    ledger.close();
  });

  it('is shared per database file and refuses different settings on the same file', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'sales-')), 'metrics.db');
    const a = acquireSales(file, options);
    const b = acquireSales(file, options);
    assert.equal(a.ledger, b.ledger);
    assert.equal(peekSales(file), a.ledger);
    assert.throws(() => acquireSales(file, { ...options, footfallCamera: 'door' }), /footfallCamera/);
    a.release();
    a.release();
    assert.equal(peekSales(file), b.ledger, 'released twice counts once');
    b.release();
    assert.equal(peekSales(file), null);
  });
});

describe('conversionReport', () => {
  const at = (iso: string) => Date.parse(iso);

  function setUp(footfallCamera = '') {
    const footfall = new MetricsCollector({ timeZone: 'Europe/Paris' });
    // 20 visitors 14:00-15:00 Paris time (13:xx UTC), 10 at 15:00-16:00; 5 more seen by a second camera.
    for (let i = 0; i < 20; i++) footfall.recordFootfall('door', at('2026-11-28T13:00:00Z') + i * 60_000);
    for (let i = 0; i < 10; i++) footfall.recordFootfall('door', at('2026-11-28T14:00:00Z') + i * 60_000);
    for (let i = 0; i < 5; i++) footfall.recordFootfall('aisle', at('2026-11-28T14:00:00Z') + i * 60_000);
    const sales = new SalesLedger(':memory:', { ...options, footfallCamera });
    sales.record(
      parseTransactions(
        [
          { id: 1, timestamp: '2026-11-28T13:15:00Z', amount: 20 },
          { id: 2, timestamp: '2026-11-28T13:45:00Z', amount: 40 },
          { id: 3, timestamp: '2026-11-28T13:55:00Z', amount: 30 },
          { id: 4, timestamp: '2026-11-28T14:10:00Z', amount: 10 },
          { id: 5, timestamp: '2026-11-27T10:00:00Z', amount: 50 },
        ],
        { now: NOW },
      ),
      NOW,
    );
    return { footfall, sales };
  }

  it('gives conversion, average basket and spend per visitor per hour and for the day', () => {
    const { footfall, sales } = setUp('door');
    const report = conversionReport(sales, footfall, '2026-11-28');
    assert.equal(report.footfallCamera, 'door');
    assert.deepEqual(report.hours, [
      { hour: '2026-11-28T14:00+01:00', start: at('2026-11-28T13:00:00Z'), footfall: 20, transactions: 3, conversionRate: 0.15, revenue: 90, averageBasket: 30, basketPerVisitor: 4.5 },
      { hour: '2026-11-28T15:00+01:00', start: at('2026-11-28T14:00:00Z'), footfall: 10, transactions: 1, conversionRate: 0.1, revenue: 10, averageBasket: 10, basketPerVisitor: 1 },
    ]);
    assert.deepEqual(report.total, { footfall: 30, transactions: 4, conversionRate: 4 / 30, revenue: 100, averageBasket: 25, basketPerVisitor: 100 / 30 });
    assert.equal(report.days.length, 7);
    assert.deepEqual(report.days.at(-2), { day: '2026-11-27', footfall: 0, transactions: 1, conversionRate: null, revenue: 50, averageBasket: 50, basketPerVisitor: null });
    assert.equal(report.days.at(-1)!.transactions, 4);
  });

  it('uses all cameras together unless told which camera counts visitors', () => {
    const { footfall, sales } = setUp();
    assert.equal(conversionReport(sales, footfall, '2026-11-28').total.footfall, 35);
  });

  it('reports sales without footfall when no zone-analytics node counts it, and refuses mismatched time zones', () => {
    const { sales } = setUp();
    const report = conversionReport(sales, null, '2026-11-28');
    assert.equal(report.footfallCounted, false);
    assert.deepEqual([report.total.transactions, report.total.footfall, report.total.conversionRate], [4, 0, null]);
    assert.throws(() => conversionReport(sales, new MetricsCollector({ timeZone: 'UTC' }), '2026-11-28'), /footfall is counted in UTC but sales in Europe\/Paris/);
    assert.throws(() => conversionReport(sales, null, '28/11/2026'), /day must be a date/);
  });
});
