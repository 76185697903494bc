/** What a person tallies and the product counts: a line's crossings by direction, a zone's entries. */
export type CountKind = 'in' | 'out' | 'entry';

export const COUNT_KINDS: readonly CountKind[] = ['in', 'out', 'entry'];

/** One count, by a person auditing a clip or by the product: which counter, which way, when (ms since the epoch). */
export interface CountMark {
  counter: string;
  kind: CountKind;
  at: number;
}

/** One counter's audit: the person's tally is the truth. */
export interface CounterScore {
  counter: string;
  kind: CountKind;
  /** What the person counted. */
  truth: number;
  /** What the product counted. */
  counted: number;
  /** Counts of the person with no count of the product near them in time, and the other way round. */
  missed: number;
  extra: number;
  /** (counted − truth) / truth: what a report of totals is off by; null when the person counted nobody. */
  netError: number | null;
  /** (missed + extra) / truth: every count that was wrong, even where a miss and an extra cancel out in the total. */
  grossError: number | null;
}

export interface AuditScore {
  counters: CounterScore[];
  total: Omit<CounterScore, 'counter' | 'kind'>;
}

/**
 * How far apart in time a person's count and the product's may be and still be the same crossing: a person clicks
 * when they see someone cross, give or take their reaction, and the product counts a crossing once the person has
 * been on the new side for its anti-flicker frames.
 */
export const MATCH_WINDOW_MS = 2000;

const ratio = (part: number, whole: number) => (whole > 0 ? part / whole : null);

function scoreOf(truth: number, counted: number, missed: number, extra: number) {
  return { truth, counted, missed, extra, netError: ratio(counted - truth, truth), grossError: ratio(missed + extra, truth) };
}

/**
 * Pairs the times of two sorted lists, each time with at most one of the other within `window`: walking both in
 * time order and pairing the earliest pair in reach gives the most pairs there can be.
 */
function matchedPairs(truth: readonly number[], counted: readonly number[], window: number): number {
  let pairs = 0;
  let i = 0;
  let j = 0;
  while (i < truth.length && j < counted.length) {
    if (Math.abs(truth[i] - counted[j]) <= window) {
      pairs++;
      i++;
      j++;
    } else if (truth[i] < counted[j]) i++;
    else j++;
  }
  return pairs;
}

/**
 * Scores the product's counts of a clip against a person's tally of it, per counter and direction and in all:
 * a count of the product and one of the person within `window` of each other are the same crossing; the rest are
 * misses (the person's) and extra counts (the product's).
 */
export function scoreAudit(tally: readonly CountMark[], product: readonly CountMark[], counters: readonly { counter: string; kind: CountKind }[], window = MATCH_WINDOW_MS): AuditScore {
  const timesOf = (marks: readonly CountMark[], counter: string, kind: CountKind) =>
    marks.filter((m) => m.counter === counter && m.kind === kind).map((m) => m.at).sort((a, b) => a - b);
  const scores = counters.map(({ counter, kind }) => {
    const truth = timesOf(tally, counter, kind);
    const counted = timesOf(product, counter, kind);
    const pairs = matchedPairs(truth, counted, window);
    return { counter, kind, ...scoreOf(truth.length, counted.length, truth.length - pairs, counted.length - pairs) };
  });
  const sum = (key: 'truth' | 'counted' | 'missed' | 'extra') => scores.reduce((total, s) => total + s[key], 0);
  return { counters: scores, total: scoreOf(sum('truth'), sum('counted'), sum('missed'), sum('extra')) };
}
