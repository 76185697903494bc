/**
 * Where the fleet lives in Redis: every key and channel under one prefix (default `retail:`), so several fleets
 * (or other applications) can share a server. README "Scaling out" has this as a table.
 */
export interface FleetKeys {
  /** Hash: camera id → the camera's latest published state (JSON), kept without expiry so offline cameras keep their totals. */
  cameras: string;
  /** String with an expiry: present while the camera's worker is alive. */
  live(cameraId: string): string;
  /** String with an expiry: the camera's latest annotated frame (JPEG), when its worker shares frames. */
  frame(cameraId: string): string;
  /** String with an expiry: the camera's latest heatmap image, when its worker shares images. */
  heatmap(cameraId: string): string;
  /** Hashes of time-series buckets: minute start → minute bucket, hour start → hour bucket, local day → day peak. */
  minutes(cameraId: string): string;
  hours(cameraId: string): string;
  days(cameraId: string): string;
  /** Hash: local day → peak occupancy of all cameras together, as an aggregator saw it. */
  fleetPeaks: string;
  /** Stream of events (entries, exits, crossings, track starts and ends), bounded in length. */
  events: string;
  /** String: the id of the last event an aggregator of this name has passed on. */
  cursor(aggregator: string): string;
  /** Pub/sub channel: each camera's state as it is published, with its changed buckets. */
  channel: string;
}

export const DEFAULT_KEY_PREFIX = 'retail:';

/** Key prefixes: printable, no spaces, at most 64 characters; conventionally ending in `:`. */
export function checkKeyPrefix(prefix: string): string {
  if (!/^[\x21-\x7e]{0,64}$/.test(prefix)) throw new Error(`the key prefix must be up to 64 printable characters without spaces, got "${prefix}"`);
  return prefix;
}

export function fleetKeys(prefix = DEFAULT_KEY_PREFIX): FleetKeys {
  const p = checkKeyPrefix(prefix);
  return {
    cameras: `${p}cameras`,
    live: (id) => `${p}camera:${id}:live`,
    frame: (id) => `${p}camera:${id}:frame`,
    heatmap: (id) => `${p}camera:${id}:heatmap`,
    minutes: (id) => `${p}series:${id}:minutes`,
    hours: (id) => `${p}series:${id}:hours`,
    days: (id) => `${p}series:${id}:days`,
    fleetPeaks: `${p}fleet:peaks`,
    events: `${p}events`,
    cursor: (name) => `${p}fleet:cursor:${name}`,
    channel: `${p}live`,
  };
}
