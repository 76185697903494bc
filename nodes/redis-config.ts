import { hostname } from 'node:os';
import type { NodeAPI, NodeDef, NodeStatus } from 'node-red';
import { RedisConnection, type ConnectionStatus } from '../src/fleet/connection';
import { DEFAULT_KEY_PREFIX, fleetKeys } from '../src/fleet/layout';
import { errorStatus, settingNumber } from './status';
import type { RedisConfigNode } from './types';

interface RedisConfigDef extends NodeDef {
  host: string;
  port: string | number;
  db: string | number;
  tls: boolean;
  prefix: string;
  instance: string;
}

type Credentials = { username?: string; password?: string };

/** A property left as `${NAME}` because the environment variable is not set reads as empty, so the default applies. */
const setting = (value: string | undefined) => (value === undefined || /^\$\{[^}]*\}$/.test(value.trim()) ? '' : value.trim());

function statusOf(status: ConnectionStatus): NodeStatus {
  switch (status.phase) {
    case 'connected':
      return { fill: 'green', shape: 'dot', text: `connected · ${status.address}` };
    case 'closed':
      return { fill: 'grey', shape: 'ring', text: 'closed' };
    default:
      return status.error
        ? { fill: 'red', shape: 'ring', text: `${status.error} · retrying` }
        : { fill: 'yellow', shape: 'ring', text: `${status.phase} to ${status.address}` };
  }
}

export = function register(RED: NodeAPI): void {
  function RedisConfig(this: RedisConfigNode, config: RedisConfigDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const credentials: Credentials = {
      username: typeof node.credentials?.username === 'string' ? node.credentials.username : undefined,
      password: typeof node.credentials?.password === 'string' ? node.credentials.password : undefined,
    };
    node.instance = setting(config.instance) || hostname();
    node.connection = null;
    node.problem = null;
    const users = new Set<() => void>();
    // Node-RED hands a config node's errors to the Catch nodes of the flows its users are in (node.users).
    node.users = {};
    try {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(node.instance)) throw new Error(`the instance name must be 1 to 64 letters, digits, ".", "_" or "-", got "${node.instance}"`);
      node.keys = fleetKeys(setting(config.prefix) || DEFAULT_KEY_PREFIX);
      node.connection = new RedisConnection({
        host: setting(config.host) || '127.0.0.1',
        port: settingNumber(setting(String(config.port ?? '')), 6379),
        db: settingNumber(setting(String(config.db ?? '')), 0),
        username: credentials.username,
        password: credentials.password,
        tls: config.tls === true,
      });
    } catch (err) {
      node.problem = (err as Error).message;
      node.keys = fleetKeys();
      node.error(`Redis: ${node.problem}`);
    }

    // Each new reason for not being connected is reported once (to Catch nodes of the users' flows), not every retry.
    let reported: string | null = null;
    const stopWatching = node.connection?.onStatus((status) => {
      if (status.phase === 'connected') {
        if (reported !== null) node.log(`Redis ${status.address}: connected again`);
        reported = null;
      } else if (status.error && status.error !== reported && status.phase !== 'closed') {
        reported = status.error;
        // With a message, so Node-RED hands it to Catch nodes (it does not for errors without one).
        node.error(`Redis ${status.address}: ${status.error}; retrying`, { topic: 'redis/connection', payload: { address: status.address, reason: status.error } });
      }
    });

    node.register = (user) => {
      if (!node.connection) {
        user.status(errorStatus(new Error(node.problem ?? 'Redis settings unusable')));
        return () => {};
      }
      const stop = node.connection.onStatus((status) => user.status(statusOf(status)));
      users.add(stop);
      node.users[user.id] = user;
      return () => {
        stop();
        users.delete(stop);
        delete node.users[user.id];
      };
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      stopWatching?.();
      for (const stop of users) stop();
      users.clear();
      (node.connection?.close() ?? Promise.resolve()).then(done, () => done());
    });
  }

  RED.nodes.registerType('redis-config', RedisConfig, {
    credentials: { username: { type: 'text' }, password: { type: 'password' } },
  });
};
