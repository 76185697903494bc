import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ROOT, requireModel, requireVtest, stopChild, waitFor } from './support';

export interface RunningNodeRed {
  port: number;
  userDir: string;
  /** Everything Node-RED printed so far. */
  output(): string;
  /** Warnings and errors Node-RED logged from "Starting flows" on. */
  problems(): string[];
  stop(): Promise<void>;
  /** Kills Node-RED at once, as a crash or power cut would (SIGKILL: nothing runs on its way out). */
  kill(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** The child processes of `pid`, from /proc (field 4 of /proc/<pid>/stat is the parent), with their command names. */
export function childrenOf(pid: number): { pid: number; command: string }[] {
  const children: { pid: number; command: string }[] = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push({ pid: Number(entry), command: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
    } catch {
      // The process ended while the list was read.
    }
  }
  return children;
}

/** The first child process of `pid`. */
export function childOf(pid: number): number {
  const [child] = childrenOf(pid);
  if (!child) throw new Error(`process ${pid} has no child`);
  return child.pid;
}

async function stop(red: ChildProcess): Promise<void> {
  await stopChild(red, 'SIGINT');
  running.delete(red);
}

/**
 * Node-RED in its own process, started as `npm start` starts it (scripts/demo.js: a fresh user directory with
 * this package linked in), with the given flows deployed as a user's import would deploy them.
 */
export async function startNodeRed(
  context: Mocha.Context,
  options: { flows?: unknown[]; env?: Record<string, string>; userDir?: string; port?: number } = {},
): Promise<RunningNodeRed> {
  requireModel(context);
  requireVtest(context);
  let output = '';
  const port = options.port ?? 19000 + Math.floor(Math.random() * 1000);
  const userDir = options.userDir ?? mkdtempSync(path.join(tmpdir(), 'node-red-'));
  const env: Record<string, string> = { PORT: String(port), DEMO_USER_DIR: userDir, ...options.env };
  if (options.flows) {
    env.DEMO_FLOW_FILE = path.join(userDir, 'import.json');
    writeFileSync(env.DEMO_FLOW_FILE, JSON.stringify(options.flows));
  }
  const red = spawn(process.execPath, [path.join(ROOT, 'scripts', 'demo.js')], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(red);
  red.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  red.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor(() => /Started flows/.test(output) || red.exitCode !== null, 30000, `Node-RED to start:\n${output}`);
  if (red.exitCode !== null) throw new Error(`Node-RED exited with ${red.exitCode}:\n${output}`);
  return {
    port,
    userDir,
    output: () => output,
    problems: () => output.slice(output.indexOf('Starting flows')).split('\n').filter((line) => /\[(warn|error)\]/.test(line)),
    stop: () => stop(red),
    kill: async () => {
      // Node-RED is the child of scripts/demo.js, which exits with it.
      const nodeRed = childOf(red.pid!);
      const exited = new Promise((resolve) => red.once('exit', resolve));
      process.kill(nodeRed, 'SIGKILL');
      await exited;
      running.delete(red);
    },
  };
}

/** Stops whatever a failed test left running. */
export async function stopAllNodeRed(): Promise<void> {
  await Promise.all([...running].map(stop));
}
