import type { MetricsCollector } from '../metrics/collector';

/**
 * The fleet collectors of this process by aggregator, so an api-out fed by a fleet-aggregate node reads the fleet's
 * time series (messages name their aggregator in msg.fleet.aggregator; collectors are not carried in messages).
 */
const collectors = new Map<string, MetricsCollector>();

export const fleetRegistry = {
  add(aggregator: string, collector: MetricsCollector): void {
    collectors.set(aggregator, collector);
  },
  remove(aggregator: string, collector: MetricsCollector): void {
    if (collectors.get(aggregator) === collector) collectors.delete(aggregator);
  },
  collector(aggregator: string): MetricsCollector | null {
    return collectors.get(aggregator) ?? null;
  },
};
