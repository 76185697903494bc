import type { Node } from 'node-red';
import type { Detector } from '../src/detection/detector';
import type { ModelState } from '../src/detection/usage-registry';

/** The yolo-model config node as detect nodes see it. */
export interface YoloModelNode extends Node {
  /** The shared detector; rejects with the load error when the model cannot be used. */
  detector(): Promise<Detector>;
  /** Where the model is on its way to being usable, for the detect nodes' status. */
  phase(): ModelState;
  modelPath: string;
}

/** The redis-config node as fleet nodes see it: one connection shared by its users, reporting to each of them. */
export interface RedisConfigNode extends Node<{ username: unknown; password: unknown }> {
  /** Null when the settings cannot work; `problem` then says why. */
  connection: import('../src/fleet/connection').RedisConnection | null;
  problem: string | null;
  keys: import('../src/fleet/layout').FleetKeys;
  instance: string;
  /** Shows the connection's state on `user` from now on; returns the function that stops it. */
  register(user: Node): () => void;
  /** The nodes using it, by id: Node-RED sends a config node's errors to their flows' Catch nodes. */
  users: Record<string, Node>;
}

/** The store-calendar config node as zone-analytics sees it. */
export interface StoreCalendarNode extends Node {
  timeZone: string;
  /** Null when the settings cannot work; `problem` then says why. */
  settings: import('../src/metrics/calendar').CalendarSettings | null;
  problem: string | null;
}

/** zone-analytics as other nodes see it (the Dashboard 2.0 zone editor of the widget package, by duck typing). */
export interface ZoneAnalyticsNode extends Node {
  /** The layout counted now: the node's own, or the latest one sent. */
  currentLayout(): import('../src/analytics/zones').ZoneLayout;
  /**
   * Counts with `layout` from now on, as `msg.layout` does; `origin` is logged (who changed it). Returns the visits
   * under way that it ended; throws why when the layout is refused, and nothing changes then.
   */
  relayout(layout: unknown, origin: string): number;
}
