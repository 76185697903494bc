#!/usr/bin/env node
'use strict';
// The long fuzz run: `npm run fuzz -- --messages 10000 [--seed N] [--grep sort-track]` sends that many hostile
// messages into every node (test/fuzz.test.ts; CI sends 150) and prints, per node, messages sent and peak heap.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values } = parseArgs({ options: { messages: { type: 'string', default: '10000' }, seed: { type: 'string' }, grep: { type: 'string' } } });
if (!/^\d+$/.test(values.messages)) {
  console.error(`fuzz: --messages must be a whole number, got "${values.messages}"`);
  process.exit(2);
}
const env = { ...process.env, FUZZ_MESSAGES: values.messages, ...(values.seed ? { FUZZ_SEED: values.seed } : {}) };
// Mocha runs the tests in this process, so --expose-gc reaches them: they measure the heap after collections.
const mocha = require.resolve('mocha/bin/mocha.js');
const args = ['--expose-gc', mocha, '--no-config', '--timeout', '0', path.join(__dirname, '..', 'dist', 'test', 'fuzz.test.js'), ...(values.grep ? ['--grep', values.grep] : [])];
const result = spawnSync(process.execPath, args, { stdio: 'inherit', env });
process.exit(result.status ?? 1);
