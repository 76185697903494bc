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
