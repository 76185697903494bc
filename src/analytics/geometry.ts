export type Point = [x: number, y: number];

/** Even-odd rule by ray casting: a horizontal ray from `p` crosses the outline an odd number of times. */
export function insidePolygon(p: Point, polygon: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Which side of the directed line A→B the point is on, in image coordinates (y down):
 * (Bx − Ax)(Py − Ay) − (By − Ay)(Px − Ax); negative, zero on the line, positive.
 */
export function sideOfLine(p: Point, a: Point, b: Point): number {
  return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
}

/** Whether segments PQ and AB share a point (touching counts). */
export function segmentsIntersect(p: Point, q: Point, a: Point, b: Point): boolean {
  const d1 = sideOfLine(p, a, b);
  const d2 = sideOfLine(q, a, b);
  const d3 = sideOfLine(a, p, q);
  const d4 = sideOfLine(b, p, q);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) return true;
  const onSegment = (r: Point, s: Point, t: Point) =>
    Math.min(s[0], t[0]) <= r[0] && r[0] <= Math.max(s[0], t[0]) && Math.min(s[1], t[1]) <= r[1] && r[1] <= Math.max(s[1], t[1]);
  return (
    (d1 === 0 && onSegment(p, a, b)) || (d2 === 0 && onSegment(q, a, b)) || (d3 === 0 && onSegment(a, p, q)) || (d4 === 0 && onSegment(b, p, q))
  );
}

/**
 * How far along the segment P→Q (0 at P, 1 at Q) it last crosses the polygon's outline; 1 when it does not
 * (Q on the outline, or both ends on the same side of it).
 */
export function lastCrossingAlong(p: Point, q: Point, polygon: readonly Point[]): number {
  let last = -1;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const a = polygon[j];
    const b = polygon[i];
    const dp = sideOfLine(p, a, b);
    const dq = sideOfLine(q, a, b);
    if (!((dp > 0 && dq < 0) || (dp < 0 && dq > 0))) continue;
    const t = dp / (dp - dq);
    // Where the segment meets the edge's line must lie on the edge itself.
    const x = p[0] + t * (q[0] - p[0]);
    const y = p[1] + t * (q[1] - p[1]);
    const along = (x - a[0]) * (b[0] - a[0]) + (y - a[1]) * (b[1] - a[1]);
    const length = (b[0] - a[0]) ** 2 + (b[1] - a[1]) ** 2;
    if (along >= 0 && along <= length && t > last) last = t;
  }
  return last < 0 ? 1 : last;
}

/** How far along the segment P→Q (0 at P, 1 at Q) it crosses the line through A and B; 1 when it does not. */
export function crossingAlong(p: Point, q: Point, a: Point, b: Point): number {
  const dp = sideOfLine(p, a, b);
  const dq = sideOfLine(q, a, b);
  return (dp > 0 && dq < 0) || (dp < 0 && dq > 0) ? dp / (dp - dq) : 1;
}

/** The distance from P to the nearest point of the segment AB. */
export function distanceToSegment(p: Point, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const length = dx * dx + dy * dy;
  const t = length > 0 ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length)) : 0;
  return Math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy));
}
