import * as path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import { peekMetrics } from '../src/metrics/shared';
import { conversionReport, type ConversionReport } from '../src/sales/conversion';
import { acquireSales, type SharedSales } from '../src/sales/ledger';
import { parseTransactions } from '../src/sales/transactions';
import { errorStatus, failMessage, refuseTooDeep, refuseToRun, settingNumber, startThrottledStatus } from './status';

interface PosConversionDef extends NodeDef {
  footfallCamera: string;
  /** Absent in flows made before buying units: people. */
  visitors?: 'people' | 'units';
  timeZone: string;
  database: string;
  retentionDays: string | number;
}

function percent(rate: number | null): string {
  return rate === null ? '–' : `${(rate * 100).toFixed(1)}%`;
}

export = function register(RED: NodeAPI): void {
  function PosConversionNode(this: Node, config: PosConversionDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    let sales: SharedSales;
    let database: string;
    try {
      const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
      database = config.database?.trim() || path.join(userDir, 'retail-analytics', 'metrics.db');
      sales = acquireSales(database, {
        timeZone: config.timeZone?.trim() || Intl.DateTimeFormat().resolvedOptions().timeZone,
        retentionDays: settingNumber(config.retentionDays, 400),
        footfallCamera: config.footfallCamera?.trim() ?? '',
        visitors: config.visitors === 'units' ? 'units' : 'people',
      });
    } catch (err) {
      refuseToRun(node, 'pos-conversion', err as Error);
      return;
    }
    const ledger = sales.ledger;
    const report = (day?: string): ConversionReport => conversionReport(ledger, peekMetrics(database), day ?? ledger.dayOf(Date.now()));
    // Footfall keeps changing between sales, so the badge is refreshed like the per-frame nodes'.
    const status = startThrottledStatus(node, () => {
      try {
        const today = report().total;
        const visitors = peekMetrics(database) ? ` · ${percent(today.conversionRate)} of ${today.footfall} visitors` : ' · no footfall counted here';
        return { fill: 'green', shape: 'dot', text: `${today.transactions} sales today${visitors}` };
      } catch (err) {
        return errorStatus(err as Error);
      }
    });
    status.now();

    node.on('input', (incoming, send, done) => {
      if (refuseTooDeep(incoming, done)) return;
      const msg = incoming as NodeMessageInFlow & { day?: unknown };
      try {
        const out = msg as NodeMessage & Record<string, unknown>;
        if (msg.topic === 'report') {
          const day = typeof msg.day === 'string' && msg.day !== '' ? msg.day : undefined;
          out.payload = report(day);
        } else {
          const result = ledger.record(parseTransactions(msg.payload, { retentionDays: ledger.options.retentionDays }));
          const today = report();
          status.now();
          out.payload = { ...result, today: today.total, day: today.day };
        }
        send(out);
        done();
      } catch (err) {
        node.status(errorStatus(err as Error));
        failMessage(msg, done, err as Error);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      sales.release();
      done();
    });
  }

  RED.nodes.registerType('pos-conversion', PosConversionNode);
};
