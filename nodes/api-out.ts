import * as path from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { createApiHandler } from '../src/api/http';
import { ApiState, type ApiInput } from '../src/api/state';
import { peekMetrics } from '../src/metrics/shared';
import { errorStatus, startThrottledStatus } from './status';

interface ApiOutDef extends NodeDef {
  basePath: string;
  quality: string | number;
  privacy: boolean;
  database: string;
}

type Layer = { handle: unknown };
type RouterHost = { _router?: { stack: Layer[] }; router?: { stack: Layer[] } };

/** Base paths served in this runtime, so two api-out nodes do not answer the same URLs. */
const servedPaths = new Set<string>();

export = function register(RED: NodeAPI): void {
  function ApiOutNode(this: Node, config: ApiOutDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const basePath = `/${(config.basePath || '/api').trim().replace(/^\/+|\/+$/g, '')}`;
    if (!/^\/[A-Za-z0-9._~\-/]+$/.test(basePath) || basePath.includes('..')) {
      const err = new Error(`"${config.basePath}" is not a usable base path: use letters, digits and /, e.g. /api`);
      node.status(errorStatus(err));
      node.error(err);
      return;
    }
    if (servedPaths.has(basePath)) {
      const err = new Error(`another api-out node already serves ${basePath}; give this one another base path`);
      node.status(errorStatus(err));
      node.error(err);
      node.on('input', (_msg, _send, done) => done(err));
      return;
    }
    servedPaths.add(basePath);
    const userDir = (RED.settings as { userDir?: string }).userDir ?? process.cwd();
    const database = config.database?.trim() || path.join(userDir, 'retail-analytics', 'metrics.db');
    const state = new ApiState();
    const quality = Number(config.quality) || 80;
    const handler = createApiHandler({
      state,
      basePath: `${(RED.settings as { httpNodeRoot?: string }).httpNodeRoot?.replace(/\/$/, '') ?? ''}${basePath}`,
      metrics: () => peekMetrics(database),
      quality: Math.min(100, Math.max(1, quality)),
      privacy: config.privacy === true,
      startedAt: Date.now(),
    });
    RED.httpNode.use(basePath, handler);
    const status = startThrottledStatus(node, () => ({ fill: 'green', shape: 'dot', text: `${basePath} · ${state.list().length} cameras` }));
    status.now();

    node.on('input', (msg: NodeMessageInFlow, _send, done) => {
      try {
        state.ingest(msg as ApiInput);
        done();
      } catch (err) {
        done(err as Error);
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.stop();
      const host = RED.httpNode as unknown as RouterHost;
      const stack = (host._router ?? host.router)?.stack ?? [];
      const index = stack.findIndex((layer) => layer.handle === handler);
      if (index >= 0) stack.splice(index, 1);
      servedPaths.delete(basePath);
      state.clear();
      done();
    });
  }

  RED.nodes.registerType('api-out', ApiOutNode);
};
