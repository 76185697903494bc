import type { NodeAPI, NodeDef } from 'node-red';
import { StoreCalendar, WEEKDAY_KEYS, type Weekday } from '../src/metrics/calendar';
import { LocalClock } from '../src/metrics/local-time';
import type { StoreCalendarNode } from './types';

type StoreCalendarDef = NodeDef & { timeZone: string; closedDays: string } & Partial<Record<Weekday, string>>;

export = function register(RED: NodeAPI): void {
  function StoreCalendarConfig(this: StoreCalendarNode, config: StoreCalendarDef) {
    RED.nodes.createNode(this, config);
    this.timeZone = config.timeZone?.trim() || Intl.DateTimeFormat().resolvedOptions().timeZone;
    const settings = {
      hours: Object.fromEntries(WEEKDAY_KEYS.map((day) => [day, config[day] ?? ''])),
      closedDays: (config.closedDays ?? '').split(/[\s,;]+/).filter(Boolean),
    };
    try {
      // Checked here so every zone-analytics node using this calendar refuses to run with the same clear reason.
      new StoreCalendar(settings, new LocalClock(this.timeZone));
      this.settings = settings;
      this.problem = null;
    } catch (err) {
      this.settings = null;
      this.problem = `store calendar "${config.name || config.id}": ${(err as Error).message}`;
    }
  }

  RED.nodes.registerType('store-calendar', StoreCalendarConfig);
};
