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

// Node-RED finds add-on packages in its user directory's node_modules; a link keeps each on this checkout.
function linkPackage(dir) {
  const name = require(path.join(dir, 'package.json')).name;
  const link = path.join(userDir, 'node_modules', ...name.split('/'));
  fs.mkdirSync(path.dirname(link), { recursive: true });
  if (!fs.existsSync(link)) fs.symlinkSync(dir, link, 'dir');
  return name;
}
linkPackage(root);
// Dashboard 2.0 loads third-party widgets only from packages the user directory's package.json depends on.
const widgets = linkPackage(path.join(root, 'packages', 'dashboard-2'));
const projectFile = path.join(userDir, 'package.json');
const project = fs.existsSync(projectFile) ? JSON.parse(fs.readFileSync(projectFile, 'utf8')) : { name: 'node-red-project', description: 'A Node-RED Project', version: '0.0.1', private: true };
project.dependencies = { ...project.dependencies, [widgets]: `file:${path.join(root, 'packages', 'dashboard-2')}` };
fs.writeFileSync(projectFile, `${JSON.stringify(project, null, 2)}\n`);
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
const flowNodes = JSON.parse(fs.readFileSync(flowFile, 'utf8'));
// With Dashboard 2.0 in the flow, it has /dashboard and api-out's own page moves aside (README, api-out).
const ourPages = flowNodes.some((node) => node.type === 'ui-base') ? '/retail-analytics' : '';
if (ourPages) console.log(`demo: Dashboard 2.0 http://localhost:${port}/dashboard/`);
console.log(`demo: dashboard  http://localhost:${port}${ourPages}/dashboard/`);
if (flowNodes.some((node) => node.type.startsWith('ui_'))) console.log(`demo: /ui view   http://localhost:${port}/ui/`);
console.log(`demo: editor     http://localhost:${port}/`);
console.log(`demo: API docs   http://localhost:${port}${ourPages}/docs/`);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => red.kill(signal));
red.on('exit', (code) => process.exit(code ?? 0));
