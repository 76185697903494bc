import type { Box } from '../types';

/**
 * SORT's constant-velocity Kalman filter on [cx, cy, s = area, r = aspect] with velocities of cx, cy and s.
 *
 * F, H, Q and R keep the state's axes independent, so the 7x7 covariance is block diagonal: one 2x2 block
 * per axis with a velocity (cx, cy, s) and a scalar for r. Each block is updated with exactly the
 * floating-point operations, in the same order, that the dense textbook formulas perform on the non-zero
 * entries (predict P' = F P Fᵀ + Q; Joseph-form update P' = (I - K H) P (I - K H)ᵀ + K R Kᵀ), so results
 * match a dense implementation bit for bit while costing a few dozen multiplications.
 */

// Process noise: 1 for positions, 0.01 for the cx/cy velocities, 0.01 * 0.01 for the area velocity.
const Q_POSITION = 1;
const Q_VELOCITY = 0.01;
const Q_AREA_VELOCITY = 0.01 * 0.01;
// Measurement noise: 1 for the centre, 10 for area and aspect.
const R_CENTRE = 1;
const R_SHAPE = 10;
// Initial covariance: 10 for observed states, 10 * 1000 for the unobserved velocities.
const P_OBSERVED = 10;
const P_VELOCITY = 10 * 1000;

type AxisState = [p: number, v: number, a: number, b: number, c: number, d: number];

/** A copy of a filter's state and covariance, to return to later (OC-SORT's re-update). */
export interface FilterSnapshot {
  cx: AxisState;
  cy: AxisState;
  s: AxisState;
  r: number;
  rVariance: number;
}

/** State and covariance of one axis that has a velocity: position p, velocity v, covariance [[a, b], [c, d]]. */
class Axis {
  p: number;
  v = 0;
  a = P_OBSERVED;
  b = 0;
  c = 0;
  d = P_VELOCITY;

  constructor(position: number, private readonly qVelocity: number, private readonly r: number) {
    this.p = position;
  }

  get state(): AxisState {
    return [this.p, this.v, this.a, this.b, this.c, this.d];
  }

  set state(saved: AxisState) {
    [this.p, this.v, this.a, this.b, this.c, this.d] = saved;
  }

  predict(): void {
    this.p = this.p + this.v;
    // F P = [[a + c, b + d], [c, d]]; (F P) Fᵀ = [[(a + c) + (b + d), b + d], [c + d, d]]; then + Q.
    const ac = this.a + this.c;
    const bd = this.b + this.d;
    this.a = ac + bd + Q_POSITION;
    this.b = bd;
    this.c = this.c + this.d;
    this.d = this.d + this.qVelocity;
  }

  update(measured: number): void {
    const inverseS = 1 / (this.a + this.r);
    const k0 = this.a * inverseS;
    const k1 = this.c * inverseS;
    const residual = measured - this.p;
    this.p = this.p + k0 * residual;
    this.v = this.v + k1 * residual;
    // A = (I - K H) P with I - K H = [[1 - k0, 0], [-k1, 1]].
    const i00 = 1 - k0;
    const i10 = -k1;
    const a00 = i00 * this.a;
    const a01 = i00 * this.b;
    const a10 = i10 * this.a + this.c;
    const a11 = i10 * this.b + this.d;
    // A (I - K H)ᵀ + (K R) Kᵀ
    const kr0 = k0 * this.r;
    const kr1 = k1 * this.r;
    this.a = a00 * i00 + kr0 * k0;
    this.b = a00 * i10 + a01 + kr0 * k1;
    this.c = a10 * i00 + kr1 * k0;
    this.d = a10 * i10 + a11 + kr1 * k1;
  }
}

export class BoxKalmanFilter {
  private readonly cx: Axis;
  private readonly cy: Axis;
  private readonly s: Axis;
  /** The aspect ratio has no velocity: a scalar state and variance. */
  private r: number;
  private rVariance = P_OBSERVED;

  /** `measure` turns a box into [cx, cy, s, r]; OC-SORT's differs from SORT's in the last bits. */
  constructor(box: Box, private readonly measure: (box: Box) => Measurement = toMeasurement) {
    const [cx, cy, s, r] = measure(box);
    this.cx = new Axis(cx, Q_VELOCITY, R_CENTRE);
    this.cy = new Axis(cy, Q_VELOCITY, R_CENTRE);
    this.s = new Axis(s, Q_AREA_VELOCITY, R_SHAPE);
    this.r = r;
  }

  /** One frame ahead; `stopShrinking` is what SORT and OC-SORT do before every prediction of a tracker. */
  predict(stopShrinking = true): void {
    // An area about to shrink below zero would give an imaginary width: stop its shrinking instead.
    if (stopShrinking && this.s.v + this.s.p <= 0) this.s.v = 0;
    this.cx.predict();
    this.cy.predict();
    this.s.predict();
    this.rVariance = this.rVariance + Q_POSITION;
  }

  update(box: Box): void {
    this.updateMeasurement(this.measure(box));
  }

  updateMeasurement([cx, cy, s, r]: Measurement): void {
    this.cx.update(cx);
    this.cy.update(cy);
    this.s.update(s);
    const inverseS = 1 / (this.rVariance + R_SHAPE);
    const k = this.rVariance * inverseS;
    this.r = this.r + k * (r - this.r);
    const i = 1 - k;
    this.rVariance = i * this.rVariance * i + k * R_SHAPE * k;
  }

  /** The current estimate as corners; NaN when area * aspect went negative. */
  box(): Box {
    const w = Math.sqrt(this.s.p * this.r);
    const h = this.s.p / w;
    const cx = this.cx.p;
    const cy = this.cy.p;
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
  }

  /** Centre velocity in pixels per frame. */
  velocity(): [number, number] {
    return [this.cx.v, this.cy.v];
  }

  save(): FilterSnapshot {
    return { cx: this.cx.state, cy: this.cy.state, s: this.s.state, r: this.r, rVariance: this.rVariance };
  }

  restore(saved: FilterSnapshot): void {
    this.cx.state = saved.cx;
    this.cy.state = saved.cy;
    this.s.state = saved.s;
    this.r = saved.r;
    this.rVariance = saved.rVariance;
  }
}

/** The measured part of the state: centre, area, aspect ratio (w / h). */
export type Measurement = [cx: number, cy: number, s: number, r: number];

/** [x1, y1, x2, y2] to the measured part of the state, as SORT computes it. */
export function toMeasurement(box: Box): Measurement {
  const w = box[2] - box[0];
  const h = box[3] - box[1];
  return [box[0] + w / 2, box[1] + h / 2, w * h, w / h];
}
