import { DAY, MINUTE } from '../metrics/local-time';

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
/** The largest amount of one sale: far above any basket, far below what would make a day's revenue meaningless. */
export const MAX_AMOUNT = 10_000_000;
/** A receipt id: 1 to 200 printable characters. */
const RECEIPT_ID = /^[^\u0000-\u001f\u007f]{1,200}$/;
/** An amount written as text: digits with an optional decimal part, as tills print them. */
const DECIMAL = /^\d{1,10}(\.\d{1,6})?$/;

export interface ParseOptions {
  /** The time the sales arrive (ms); defaults to now. */
  now?: number;
  /** How many days back a sale may be dated: older ones would be deleted at once (the node's "Keep sales for"). */
  retentionDays?: number;
}

function instantOf(value: unknown, where: string): number {
  const at = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Date.parse(value) : NaN;
  if (!Number.isFinite(at) || Math.abs(at) > 8.64e15) {
    throw new Error(`${where}: timestamp ${JSON.stringify(value)} is neither an ISO 8601 date nor milliseconds since 1970`);
  }
  return at;
}

function amountOf(value: unknown, where: string): number | null {
  if (value === undefined || value === null || value === '') return null;
  const amount = typeof value === 'number' ? value : typeof value === 'string' && DECIMAL.test(value.trim()) ? Number(value) : NaN;
  if (!(Number.isFinite(amount) && amount >= 0 && amount <= MAX_AMOUNT)) {
    throw new Error(`${where}: amount ${JSON.stringify(value)} must be a number from 0 to ${MAX_AMOUNT} (digits and a decimal point when written as text)`);
  }
  return amount;
}

function idOf(value: unknown, where: string): string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === 'string' && RECEIPT_ID.test(value)) return value;
  if (value === undefined || value === null || value === '') throw new Error(`${where}: id is missing; give the receipt number, so that a resent sale counts once`);
  throw new Error(`${where}: id must be the receipt number, a string of 1 to 200 printable characters or a whole number, got ${typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value}`);
}

/** The list of transactions a payload holds, or a refusal saying what the payload should be. */
function listOf(payload: unknown): unknown[] {
  let input = payload;
  if (typeof input === 'string' || Buffer.isBuffer(input)) {
    const text = input.toString();
    if (text.trim() === '') throw new Error('no transactions: the message is empty');
    try {
      input = JSON.parse(text);
    } catch {
      throw new Error('the transactions are not valid JSON');
    }
  }
  if (Array.isArray(input)) return input;
  if (typeof input !== 'object' || input === null) throw new Error('no transactions: send an object, an array of them or { "transactions": [...] }');
  if ('transactions' in input) {
    const list = (input as { transactions: unknown }).transactions;
    if (!Array.isArray(list)) throw new Error('"transactions" must be an array of transactions');
    return list;
  }
  return [input];
}

/**
 * Reads what a POS system sent: one transaction object, an array of them, or `{ transactions: [...] }`, as
 * an object or JSON text. A transaction is `{id, timestamp?, amount?}`: `id` the receipt number (required: it
 * makes a resent sale count once), `timestamp` ISO 8601 or ms since 1970 (default now; within the retention
 * and at most 5 minutes ahead), `amount` a number from 0 to MAX_AMOUNT (default none). A batch with one bad
 * transaction is refused whole, so the sender can fix and resend it without counting the rest twice.
 */
export function parseTransactions(payload: unknown, options: ParseOptions = {}): Transaction[] {
  const now = options.now ?? Date.now();
  const oldest = options.retentionDays === undefined ? -Infinity : now - options.retentionDays * DAY;
  const list = listOf(payload);
  if (list.length === 0) throw new Error('no transactions: send an object, an array of them or { "transactions": [...] }');
  if (list.length > MAX_BATCH) throw new Error(`${list.length} transactions in one message; send at most ${MAX_BATCH} at a time`);
  return list.map((entry, index) => {
    const where = list.length === 1 ? 'transaction' : `transaction ${index + 1}`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new Error(`${where} is not an object with id, timestamp and amount`);
    const fields = entry as Record<string, unknown>;
    const id = idOf(fields.id, where);
    const at = fields.timestamp === undefined ? now : instantOf(fields.timestamp, where);
    if (at > now + FUTURE_TOLERANCE_MS) throw new Error(`${where}: timestamp ${new Date(at).toISOString()} is in the future`);
    if (at < oldest) {
      throw new Error(`${where}: timestamp ${new Date(at).toISOString()} is older than the ${options.retentionDays} days sales are kept (seconds instead of milliseconds?)`);
    }
    return { id, at, amount: amountOf(fields.amount, where) };
  });
}
