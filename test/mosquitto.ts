import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { accepting, stopChild } from './support';

const MOSQUITTO = '/usr/sbin/mosquitto';

export interface Broker {
  port: number;
  stop(): Promise<void>;
}

/** A real Mosquitto broker on a free loopback port, for the calling test only; skips it when Mosquitto is absent. */
export async function startMosquitto(context: Mocha.Context): Promise<Broker> {
  if (!existsSync(MOSQUITTO)) {
    console.log(`      skipped: Mosquitto not found at ${MOSQUITTO} ("npm run setup" installs it)`);
    context.skip();
  }
  const port = 21000 + Math.floor(Math.random() * 1000);
  const config = path.join(mkdtempSync(path.join(tmpdir(), 'mosquitto-')), 'mosquitto.conf');
  writeFileSync(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  let output = '';
  const broker: ChildProcess = spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  broker.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  broker.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const started = Date.now();
  while (!(await accepting(port))) {
    if (broker.exitCode !== null || Date.now() - started > 10000) {
      broker.kill();
      throw new Error(`Mosquitto did not start on port ${port}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    stop: () => stopChild(broker),
  };
}
