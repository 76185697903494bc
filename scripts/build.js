#!/usr/bin/env node
'use strict';
// Compiles the TypeScript and puts each node's editor files where Node-RED looks for them: next to the
// compiled .js (the .html), in locales/ beside it, and icons/ beside it; copies the dashboard's static files;
// builds the Dashboard 2.0 widget package likewise.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'dist', 'nodes');

fs.rmSync(path.join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', root], { stdio: 'inherit' });
for (const file of fs.readdirSync(path.join(root, 'nodes'))) {
  if (file.endsWith('.html')) fs.copyFileSync(path.join(root, 'nodes', file), path.join(out, file));
}
fs.cpSync(path.join(root, 'nodes', 'locales'), path.join(out, 'locales'), { recursive: true });
fs.cpSync(path.join(root, 'icons'), path.join(out, 'icons'), { recursive: true });
// The dashboard and API docs pages are static files of the API module.
fs.cpSync(path.join(root, 'src', 'api', 'dashboard'), path.join(root, 'dist', 'src', 'api', 'dashboard'), { recursive: true });
fs.chmodSync(path.join(root, 'dist', 'src', 'cli', 'main.js'), 0o755);

// The Dashboard 2.0 widgets: a package of their own (packages/dashboard-2), built the same way into its dist/.
const widgets = path.join(root, 'packages', 'dashboard-2');
fs.rmSync(path.join(widgets, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', widgets], { stdio: 'inherit' });
fs.copyFileSync(path.join(widgets, 'nodes', 'widgets.html'), path.join(widgets, 'dist', 'widgets.html'));
