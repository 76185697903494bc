import type { Point } from './geometry';

export interface BuyingUnitOptions {
  /** Entries at most this many seconds apart ... */
  seconds: number;
  /** ... and at most this many box heights apart (the taller of the two) are one unit. */
  distance: number;
}

export const DEFAULT_BUYING_UNIT_OPTIONS: BuyingUnitOptions = { seconds: 3, distance: 1.5 };

export function validateBuyingUnitOptions(options: BuyingUnitOptions): BuyingUnitOptions {
  if (!(options.seconds > 0 && options.seconds <= 60)) throw new Error(`buying units: the time between entries must be above 0 and at most 60 seconds, got ${options.seconds}`);
  if (!(options.distance > 0 && options.distance <= 20)) throw new Error(`buying units: the distance must be above 0 and at most 20 box heights, got ${options.distance}`);
  return options;
}

/** An entry counted as footfall: when, where the person's feet were, and how tall their box was. */
export interface Entry {
  at: number;
  position: Point;
  height: number;
}

/**
 * Groups the entries of one camera into buying units (a family, a couple: people shopping together, whom a store
 * counts as one prospective buyer): an entry joins the unit of the nearest entry made within `seconds` before it
 * and within `distance` box heights of it, or starts a new unit. A heuristic: two strangers who walk in side by
 * side are one unit, and a group that trickles in further apart is several.
 */
export class BuyingUnits {
  private readonly recent: (Entry & { unit: number })[] = [];
  private units = 0;

  constructor(readonly options: BuyingUnitOptions = DEFAULT_BUYING_UNIT_OPTIONS) {
    validateBuyingUnitOptions(options);
  }

  /** The unit an entry belongs to (numbered from 1 per camera) and whether it starts it. */
  enter(entry: Entry): { unit: number; starts: boolean } {
    const windowMs = this.options.seconds * 1000;
    while (this.recent.length > 0 && entry.at - this.recent[0].at > windowMs) this.recent.shift();
    let nearest: { unit: number; distance: number } | null = null;
    for (const other of this.recent) {
      const distance = Math.hypot(entry.position[0] - other.position[0], entry.position[1] - other.position[1]);
      const reach = this.options.distance * Math.max(entry.height, other.height);
      if (distance <= reach && (!nearest || distance < nearest.distance)) nearest = { unit: other.unit, distance };
    }
    const starts = nearest === null;
    const unit = nearest?.unit ?? ++this.units;
    this.recent.push({ ...entry, unit });
    return { unit, starts };
  }

  /** An entry of someone whose position is not known: a unit of its own. */
  alone(): { unit: number; starts: boolean } {
    return { unit: ++this.units, starts: true };
  }
}
