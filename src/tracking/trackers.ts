import { ByteTracker, resolveByteTrackOptions, type ByteTrackOptions } from './bytetrack';
import { OcSortTracker, resolveOcSortOptions, type OcSortOptions } from './ocsort';
import { resolveSortOptions, SortTracker, type SortOptions } from './sort';
import { HybridTracker, resolveHybridOptions, type HybridOptions } from './hybrid';
import { formatMotRow } from './mot';
import type { Track, Tracker } from './track';

export const TRACKER_ALGORITHMS = ['sort', 'bytetrack', 'ocsort', 'hybrid'] as const;
export type TrackerAlgorithm = (typeof TRACKER_ALGORITHMS)[number];

/** An algorithm and its settings; settings left out take the algorithm's defaults. */
export type TrackerSettings =
  | ({ algorithm: 'sort' } & Partial<SortOptions>)
  | ({ algorithm: 'bytetrack' } & Partial<ByteTrackOptions>)
  | ({ algorithm: 'ocsort' } & Partial<OcSortOptions>)
  | ({ algorithm: 'hybrid' } & Partial<HybridOptions>);

export type ResolvedTrackerSettings =
  | ({ algorithm: 'sort' } & SortOptions)
  | ({ algorithm: 'bytetrack' } & ByteTrackOptions)
  | ({ algorithm: 'ocsort' } & OcSortOptions)
  | ({ algorithm: 'hybrid' } & HybridOptions);

export function isTrackerAlgorithm(value: unknown): value is TrackerAlgorithm {
  return (TRACKER_ALGORITHMS as readonly unknown[]).includes(value);
}

/** Fills in the algorithm's defaults and rejects what it cannot work with, so a bad setting fails at deploy, not at the first frame. */
export function resolveTrackerSettings(settings: TrackerSettings): ResolvedTrackerSettings {
  const { algorithm, ...options } = settings;
  switch (algorithm) {
    case 'sort':
      return { algorithm, ...resolveSortOptions(options) };
    case 'bytetrack':
      return { algorithm, ...resolveByteTrackOptions(options) };
    case 'ocsort':
      return { algorithm, ...resolveOcSortOptions(options) };
    case 'hybrid':
      return { algorithm, ...resolveHybridOptions(options) };
    default:
      throw new RangeError(`unknown tracker "${String(algorithm)}"; use ${TRACKER_ALGORITHMS.join(', ')}`);
  }
}

export function createTracker(settings: TrackerSettings): Tracker {
  const { algorithm, ...options } = resolveTrackerSettings(settings);
  switch (algorithm) {
    case 'sort':
      return new SortTracker(options);
    case 'bytetrack':
      return new ByteTracker(options);
    case 'ocsort':
      return new OcSortTracker(options);
    case 'hybrid':
      return new HybridTracker(options);
  }
}

/**
 * The product's tracking defaults, chosen on the accuracy benchmark (`npm run bench:accuracy`): the hybrid tracker
 * (ByteTrack's rounds, a filter in seconds, colour to settle crossings), fed every detection scoring above
 * RECOMMENDED_DETECTION_CONFIDENCE (its second round needs the low-score ones).
 */
export const RECOMMENDED_TRACKER: { algorithm: 'hybrid' } & Partial<HybridOptions> = { algorithm: 'hybrid' };
export const RECOMMENDED_DETECTION_CONFIDENCE = 0.1;

/** The MOTChallenge row the algorithm's reference implementation prints for a track it reports. */
export function motRow(frame: number, track: Track, algorithm: TrackerAlgorithm): string {
  return formatMotRow(frame, track.id, track.topLeftSize(), algorithm === 'bytetrack' ? (track.detection?.score ?? undefined) : undefined);
}
