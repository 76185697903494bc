import { randomUUID } from 'node:crypto';
import { MINUTE } from '../metrics/local-time';

/** A sale as the till reports it. */
export interface Transaction {
  /** The till's own id; a transaction sent twice (a retried webhook) counts once. */
  id: string;
  /** When the sale happened, ms since the epoch. */
  at: number;
  /** What the customer paid, when the till says. */
  amount: number | null;
}

const MAX_BATCH = 10_000;
/** Tills' clocks drift; sales dated further ahead than this are refused as mistakes. */
const FUTURE_TOLERANCE_MS = 5 * MINUTE;

function instantOf(value: unknown, where: string): number {
  const at = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Date.parse(value) : NaN;
  if (!Number.isFinite(at)) throw new Error(`${where}: timestamp ${JSON.stringify(value)} is neither an ISO 8601 date nor milliseconds since 1970`);
  return at;
}

function amountOf(value: unknown, where: string): number | null {
  if (value === undefined || value === null || value === '') return null;
  const amount = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  if (!Number.isFinite(amount) || amount < 0) throw new Error(`${where}: amount ${JSON.stringify(value)} is not a number of at least 0`);
  return amount;
}

/**
 * Reads what a POS system sent: one transaction object, an array of them, or `{ transactions: [...] }`.
 * Fields: `id` (string or number), `timestamp` (ISO 8601 or ms; default now), `amount` (default none). A batch with
 * one bad transaction is refused whole, so the sender can fix and resend it without counting the rest twice.
 */
export function parseTransactions(payload: unknown, now = Date.now()): Transaction[] {
  let input = payload;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    try {
      input = JSON.parse(input.toString());
    } catch {
      throw new Error('the transactions are not valid JSON');
    }
  }
  const list = Array.isArray(input) ? input : input && typeof input === 'object' && Array.isArray((input as { transactions?: unknown }).transactions) ? (input as { transactions: unknown[] }).transactions : [input];
  if (list.length === 0) throw new Error('no transactions: send an object, an array of them or { "transactions": [...] }');
  if (list.length > MAX_BATCH) throw new Error(`${list.length} transactions in one message; send at most ${MAX_BATCH} at a time`);
  return list.map((entry, index) => {
    const where = list.length === 1 ? 'transaction' : `transaction ${index + 1}`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new Error(`${where} is not an object with id, timestamp and amount`);
    const fields = entry as Record<string, unknown>;
    const rawId = fields.id;
    if (rawId !== undefined && rawId !== null && typeof rawId !== 'string' && typeof rawId !== 'number') throw new Error(`${where}: id must be a string or a number`);
    const id = rawId === undefined || rawId === null || rawId === '' ? randomUUID() : String(rawId);
    if (id.length > 200) throw new Error(`${where}: id is longer than 200 characters`);
    const at = fields.timestamp === undefined ? now : instantOf(fields.timestamp, where);
    if (at > now + FUTURE_TOLERANCE_MS) throw new Error(`${where}: timestamp ${new Date(at).toISOString()} is in the future`);
    return { id, at, amount: amountOf(fields.amount, where) };
  });
}
