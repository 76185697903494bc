#!/usr/bin/env node
'use strict';
// `npm start`: Node-RED with this package installed in a project-local user directory and the demo flow
// deployed. The flow is rewritten from examples/ at every start, so the demo always matches the package.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));
const userDir = process.env.DEMO_USER_DIR || path.join(root, '.node-red');
const port = process.env.PORT || '1880';
const flow = process.env.DEMO_FLOW || 'dashboard';
const flowFile = process.env.DEMO_FLOW_FILE || path.join(root, 'examples', `${flow}.json`);
const settings = path.resolve(process.env.DEMO_SETTINGS || path.join(__dirname, 'demo-settings.js'));

function fail(message) {
  console.error(`demo: ${message}`);
  process.exit(1);
}

if (!fs.existsSync(path.join(root, 'dist', 'nodes'))) fail('the package is not built yet: run "npm run setup" first');
if (!fs.existsSync(path.join(root, 'models', 'yolov8n.onnx'))) fail('the model is missing: run "npm run setup" first');

// Node-RED finds add-on packages in its user directory's node_modules; a link keeps it on this checkout.
const link = path.join(userDir, 'node_modules', ...pkg.name.split('/'));
fs.mkdirSync(path.dirname(link), { recursive: true });
if (!fs.existsSync(link)) fs.symlinkSync(root, link, 'dir');
fs.copyFileSync(flowFile, path.join(userDir, 'flows.json'));

/**
 * jemalloc for Node-RED when Debian's libjemalloc2 is installed: glibc's malloc keeps the native memory of frames,
 * libvips and ONNX Runtime fragmented across its arenas, so RSS sits about a quarter higher and creeps for hours
 * (README, "Staying up"). RETAIL_ANALYTICS_MALLOC=glibc keeps glibc's; an LD_PRELOAD already set is left alone.
 */
function allocatorEnv() {
  if (process.env.LD_PRELOAD || process.env.RETAIL_ANALYTICS_MALLOC === 'glibc') return {};
  const jemalloc = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'arm-linux-gnueabihf']
    .map((arch) => `/usr/lib/${arch}/libjemalloc.so.2`)
    .find((file) => fs.existsSync(file));
  return jemalloc ? { LD_PRELOAD: jemalloc } : {};
}

const allocator = allocatorEnv();
const red = spawn(
  process.execPath,
  [require.resolve('node-red/red.js'), '--settings', settings, '--userDir', userDir, '--port', port],
  // Production mode: Express answers a bad request (invalid JSON to an http in node) without a stack trace.
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: process.env.NODE_ENV || 'production', ...allocator } },
);
console.log(`demo: starting Node-RED with ${path.relative(root, flowFile)}${allocator.LD_PRELOAD ? ' (memory allocator: jemalloc)' : ''}`);
console.log(`demo: dashboard  http://localhost:${port}/dashboard/`);
const usesNodeRedDashboard = JSON.parse(fs.readFileSync(flowFile, 'utf8')).some((node) => node.type.startsWith('ui_'));
if (usesNodeRedDashboard) console.log(`demo: /ui view   http://localhost:${port}/ui/`);
console.log(`demo: editor     http://localhost:${port}/`);
console.log(`demo: API docs   http://localhost:${port}/docs/`);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => red.kill(signal));
red.on('exit', (code) => process.exit(code ?? 0));
