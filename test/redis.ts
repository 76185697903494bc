import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { accepting, stopChild } from './support';

const REDIS_SERVER = '/usr/bin/redis-server';

export interface RedisServer {
  port: number;
  url: string;
  /** Stops the server as an operator would (SIGTERM: with persistence on, it saves first). */
  stop(): Promise<void>;
  /** Starts it again on the same port; `empty` first removes what it saved, as a server without persistence starts. */
  start(options?: { empty?: boolean }): Promise<void>;
}

const servers = new Set<ChildProcess>();

/**
 * A real redis-server on a free loopback port, for the calling test only; skips the test when Redis is absent.
 * `persistence`: an append-only file in its own directory (kept across stop/start), or nothing kept.
 */
export async function startRedis(context: Mocha.Context, options: { persistence?: boolean; password?: string } = {}): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) {
    console.log(`      skipped: redis-server not found at ${REDIS_SERVER} ("npm run setup" installs it)`);
    context.skip();
  }
  const port = 23000 + Math.floor(Math.random() * 1000);
  const dir = mkdtempSync(path.join(tmpdir(), 'redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', options.persistence ? 'yes' : 'no', '--appendfsync', 'always'];
  if (options.password) args.push('--requirepass', options.password);
  let server: ChildProcess | null = null;
  const start = async ({ empty = false } = {}) => {
    if (empty) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir);
    }
    let output = '';
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    servers.add(child);
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const started = Date.now();
    while (!(await accepting(port))) {
      if (child.exitCode !== null || Date.now() - started > 10000) {
        child.kill();
        throw new Error(`redis-server did not start on port ${port}:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    server = child;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop: async () => {
      if (!server) return;
      await stopChild(server);
      servers.delete(server);
      server = null;
    },
  };
}

/** Stops every server a failed test left running. */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...servers].map((child) => stopChild(child)));
  servers.clear();
}
