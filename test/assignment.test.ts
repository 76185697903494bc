import { strict as assert } from 'node:assert';
import { solveAssignment } from '../src/tracking/assignment';

const munkres: (matrix: number[][]) => [number, number][] = require('munkres-js');

function random(seed: number): () => number {
  return () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
}

function permutations(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  const result: number[][] = [];
  for (const rest of permutations(n, k - 1)) for (let j = 0; j < n; j++) if (!rest.includes(j)) result.push([...rest, j]);
  return result;
}

/** The least total over every way to give each row its own column (rows <= columns). */
function bruteForce(cost: Float64Array, rows: number, columns: number): number {
  let best = Infinity;
  for (const choice of permutations(columns, rows)) best = Math.min(best, choice.reduce((s, j, i) => s + cost[i * columns + j], 0));
  return best;
}

function total(cost: Float64Array, columns: number, assignment: Int32Array): number {
  let sum = 0;
  assignment.forEach((j, i) => (sum += j >= 0 ? cost[i * columns + j] : 0));
  return sum;
}

describe('solveAssignment', () => {
  it('solves a textbook case', () => {
    const cost = Float64Array.from([4, 1, 3, 2, 0, 5, 3, 2, 2]);
    assert.deepEqual([...solveAssignment(cost, 3, 3)], [1, 0, 2]);
  });

  it('finds the optimum on random square and rectangular matrices, as brute force does', () => {
    const next = random(42);
    for (let trial = 0; trial < 300; trial++) {
      const rows = 1 + Math.floor(next() * 5);
      const columns = 1 + Math.floor(next() * 5);
      // Many zeros and repeated values, as IoU matrices have.
      const cost = Float64Array.from({ length: rows * columns }, () => (next() < 0.4 ? 0 : -Math.round(next() * 10) / 10));
      const assignment = solveAssignment(cost, rows, columns);
      const used = [...assignment].filter((j) => j >= 0);
      assert.equal(used.length, Math.min(rows, columns), 'as many pairs as the smaller side');
      assert.equal(new Set(used).size, used.length, 'each column at most once');
      const expected = rows <= columns ? bruteForce(cost, rows, columns) : bruteForce(transpose(cost, rows, columns), columns, rows);
      assert.ok(Math.abs(total(cost, columns, assignment) - expected) < 1e-9, `trial ${trial}: ${total(cost, columns, assignment)} vs ${expected}`);
    }
  });

  it('agrees with munkres-js on the optimal total for larger matrices', () => {
    const next = random(7);
    for (let trial = 0; trial < 30; trial++) {
      const n = 10 + Math.floor(next() * 30);
      const cost = Float64Array.from({ length: n * n }, () => -next());
      const ours = total(cost, n, solveAssignment(cost, n, n));
      const nested = Array.from({ length: n }, (_, i) => Array.from(cost.subarray(i * n, (i + 1) * n)));
      const theirs = munkres(nested).reduce((s, [i, j]) => s + cost[i * n + j], 0);
      assert.ok(Math.abs(ours - theirs) < 1e-9, `${n}x${n}: ${ours} vs ${theirs}`);
    }
  });

  it('refuses infinite costs instead of looping', () => {
    assert.throws(() => solveAssignment(Float64Array.from([Infinity, Infinity]), 1, 2), /finite/);
  });
});

function transpose(cost: Float64Array, rows: number, columns: number): Float64Array {
  const t = new Float64Array(rows * columns);
  for (let i = 0; i < rows; i++) for (let j = 0; j < columns; j++) t[j * rows + i] = cost[i * columns + j];
  return t;
}
