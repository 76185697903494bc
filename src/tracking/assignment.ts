/**
 * Exact rectangular linear assignment: pairs rows with columns so that the total cost is minimal, with
 * min(rows, columns) pairs. Shortest augmenting paths with dual potentials (the Jonker-Volgenant family, as
 * described by Crouse, "On implementing 2D rectangular assignment algorithms", 2016): O(n² m).
 *
 * `cost` is row-major, `rows x columns`. Returns, for each row, its column (or -1 when rows > columns).
 */
export function solveAssignment(cost: Float64Array, rows: number, columns: number): Int32Array {
  if (rows > columns) {
    const transposed = new Float64Array(rows * columns);
    for (let i = 0; i < rows; i++) for (let j = 0; j < columns; j++) transposed[j * rows + i] = cost[i * columns + j];
    const rowOfColumn = solveAssignment(transposed, columns, rows);
    const columnOfRow = new Int32Array(rows).fill(-1);
    rowOfColumn.forEach((row, column) => (columnOfRow[row] = column));
    return columnOfRow;
  }
  const u = new Float64Array(rows);
  const v = new Float64Array(columns);
  const pathCost = new Float64Array(columns);
  const previousRow = new Int32Array(columns);
  const columnOfRow = new Int32Array(rows).fill(-1);
  const rowOfColumn = new Int32Array(columns).fill(-1);
  const rowVisited = new Uint8Array(rows);
  const columnVisited = new Uint8Array(columns);
  const unvisited = new Int32Array(columns);

  for (let start = 0; start < rows; start++) {
    // Dijkstra over reduced costs from the free row `start` to the nearest free column.
    pathCost.fill(Infinity);
    rowVisited.fill(0);
    columnVisited.fill(0);
    let remaining = columns;
    for (let j = 0; j < columns; j++) unvisited[j] = columns - 1 - j;
    let distance = 0;
    let row = start;
    let sink = -1;
    while (sink < 0) {
      rowVisited[row] = 1;
      let nearest = -1;
      let lowest = Infinity;
      for (let k = 0; k < remaining; k++) {
        const j = unvisited[k];
        const reduced = distance + cost[row * columns + j] - u[row] - v[j];
        if (reduced < pathCost[j]) {
          previousRow[j] = row;
          pathCost[j] = reduced;
        }
        if (pathCost[j] < lowest || (pathCost[j] === lowest && rowOfColumn[j] < 0)) {
          lowest = pathCost[j];
          nearest = k;
        }
      }
      if (!Number.isFinite(lowest)) throw new RangeError('no feasible assignment: costs must be finite');
      distance = lowest;
      const column = unvisited[nearest];
      columnVisited[column] = 1;
      unvisited[nearest] = unvisited[--remaining];
      if (rowOfColumn[column] < 0) sink = column;
      else row = rowOfColumn[column];
    }
    // Keep reduced costs non-negative for the next search.
    u[start] += distance;
    for (let i = 0; i < rows; i++) {
      if (rowVisited[i] && i !== start) u[i] += distance - pathCost[columnOfRow[i]];
    }
    for (let j = 0; j < columns; j++) {
      if (columnVisited[j]) v[j] -= distance - pathCost[j];
    }
    // Flip the path: every column on it takes the row it was reached from.
    let column = sink;
    for (;;) {
      const from = previousRow[column];
      rowOfColumn[column] = from;
      const displaced = columnOfRow[from];
      columnOfRow[from] = column;
      if (from === start) break;
      column = displaced;
    }
  }
  return columnOfRow;
}

/**
 * Partial assignment with a cost limit, as `lap.lapjv(cost, extend_cost=True, cost_limit=limit)` computes it:
 * the matching that minimises Σ(cost − limit) over its pairs, so a pair costing more than the limit is never
 * taken. lap solves one square matrix of size rows + columns (the cost, two blocks of limit / 2 for "unmatched",
 * zeros); that objective splits over the groups of rows and columns linked by pairs within the limit, so each
 * group's extended matrix is solved alone, which keeps a crowded frame cheap. Returns the column of each row,
 * or -1.
 */
export function assignWithCostLimit(cost: Float64Array, rows: number, columns: number, limit: number): Int32Array {
  const columnOfRow = new Int32Array(rows).fill(-1);
  if (rows === 0 || columns === 0) return columnOfRow;
  const sets = new DisjointSets(rows + columns);
  for (let i = 0; i < rows; i++) for (let j = 0; j < columns; j++) if (cost[i * columns + j] <= limit) sets.join(i, rows + j);
  const groups = new Map<number, { rows: number[]; columns: number[] }>();
  const groupOf = (x: number) => {
    const root = sets.find(x);
    let group = groups.get(root);
    if (!group) groups.set(root, (group = { rows: [], columns: [] }));
    return group;
  };
  for (let i = 0; i < rows; i++) groupOf(i).rows.push(i);
  for (let j = 0; j < columns; j++) groupOf(rows + j).columns.push(j);
  for (const group of groups.values()) {
    const r = group.rows.length;
    const c = group.columns.length;
    if (r === 0 || c === 0) continue;
    // A lone pair below the limit is the only optimum: the common case, without building a matrix.
    if (r === 1 && c === 1 && cost[group.rows[0] * columns + group.columns[0]] < limit) {
      columnOfRow[group.rows[0]] = group.columns[0];
      continue;
    }
    const n = r + c;
    const extended = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let value: number;
        if (i < r && j < c) value = cost[group.rows[i] * columns + group.columns[j]];
        else if (i < r || j < c) value = limit / 2;
        else value = 0;
        extended[i * n + j] = value;
      }
    }
    const assignment = solveAssignment(extended, n, n);
    for (let i = 0; i < r; i++) if (assignment[i] < c) columnOfRow[group.rows[i]] = group.columns[assignment[i]];
  }
  return columnOfRow;
}

/** The pairs an assignment made, and the rows and columns it left alone (each in ascending order). */
export interface Matching {
  pairs: [row: number, column: number][];
  unmatchedRows: number[];
  unmatchedColumns: number[];
}

/** assignWithCostLimit, as the pairs it makes and what it leaves unmatched on either side. */
export function matchWithCostLimit(cost: Float64Array, rows: number, columns: number, limit: number): Matching {
  const columnOf = assignWithCostLimit(cost, rows, columns, limit);
  const taken = new Uint8Array(columns);
  const pairs: [number, number][] = [];
  const unmatchedRows: number[] = [];
  columnOf.forEach((j, i) => {
    if (j >= 0) {
      pairs.push([i, j]);
      taken[j] = 1;
    } else unmatchedRows.push(i);
  });
  const unmatchedColumns: number[] = [];
  for (let j = 0; j < columns; j++) if (!taken[j]) unmatchedColumns.push(j);
  return { pairs, unmatchedRows, unmatchedColumns };
}

/** Union-find over 0..size-1: which items are linked, directly or through others. */
export class DisjointSets {
  private readonly parent: Int32Array;

  constructor(size: number) {
    this.parent = Int32Array.from({ length: size }, (_, i) => i);
  }

  find(x: number): number {
    const parent = this.parent;
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  }

  join(a: number, b: number): void {
    const rootA = this.find(a);
    const rootB = this.find(b);
    if (rootA !== rootB) this.parent[rootA] = rootB;
  }
}
