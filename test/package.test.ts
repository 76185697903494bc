import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import semver from 'semver';
import { definitionsIn, installedDefinitions, ourDefinitions } from './node-definitions';
import { ROOT } from './support';

/**
 * The rules of Node-RED's flow library scorecard (what `node-red-dev validate` checks), checked here because the
 * tool itself needs the network to fetch the flow catalogue. Rules that need the npm registry skip without it.
 */

type Package = {
  name: string;
  license?: string;
  repository?: unknown;
  bugs?: unknown;
  keywords?: string[];
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  'node-red': { version?: string; nodes: Record<string, string> };
};

const pkg: Package = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const run = promisify(execFile);

/** `npm view` through the user's npm configuration (registry, proxy); null when the registry cannot be reached. */
async function npmView(spec: string, field: string): Promise<unknown> {
  try {
    const { stdout } = await run('npm', ['view', spec, field, '--json'], { timeout: 30000 });
    return stdout.trim() ? JSON.parse(stdout) : undefined;
  } catch (err) {
    if (/E404/.test(String((err as { stderr?: string }).stderr))) throw new Error(`${spec} is not on the npm registry`);
    return null;
  }
}

describe('flow library scorecard', () => {
  it('P01-P04: a scoped name, a licence, a repository and bugs link, and the node-red keyword', () => {
    assert.match(pkg.name, /^@[a-z\d][\w.-]+\/[a-z\d][\w.-]*$/, 'new packages must use a scoped name');
    assert.equal(pkg.license, 'Apache-2.0');
    assert.ok(existsSync(path.join(ROOT, 'LICENSE')), 'the licence text ships with the package');
    assert.ok(pkg.repository || pkg.bugs, 'a repository or bugs link');
    assert.ok(pkg.keywords?.includes('node-red'));
  });

  it('P05: node-red.version admits the Node-RED the tests run', () => {
    const installed = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', 'node-red', 'package.json'), 'utf8'));
    assert.ok(pkg['node-red'].version && semver.satisfies(installed.version.replace(/-git$/, ''), pkg['node-red'].version), `Node-RED ${installed.version} satisfies ${pkg['node-red'].version}`);
    assert.ok(pkg.engines?.node, 'engines.node is declared');
  });

  it('P05-P06 against the registry: compatible with the latest Node-RED and the Node.js it needs', async function () {
    const tags = (await npmView('node-red', 'dist-tags')) as Record<string, string> | null;
    if (!tags) {
      console.log('      skipped: the npm registry is not reachable');
      return this.skip();
    }
    const current = Object.entries(tags).filter(([tag]) => tag === 'latest' || tag.includes('maintenance')).map(([, version]) => version);
    assert.ok(current.some((v) => semver.satisfies(v, pkg['node-red'].version!)), `compatible with one of ${current.join(', ')}`);
    const engines = (await npmView(`node-red@${tags.latest}`, 'engines.node')) as string;
    assert.ok(semver.satisfies(semver.minVersion(engines)!, pkg.engines!.node!), `Node-RED ${tags.latest} needs Node.js ${engines}`);
  });

  it('N01-N02: node types of their own, defined inline, each used in an example flow', () => {
    const definitions = ourDefinitions();
    assert.deepEqual(definitions.flatMap((d) => d.notInline.map((key) => `${d.type}.${key}`)), [], 'icon, color, inputs, outputs, category and defaults are literals');
    const types = definitions.map((d) => d.type);
    assert.equal(new Set(types).size, types.length);
    // The catalogue cannot be fetched here: compare with the node types of every Node-RED module installed.
    const others = new Map(installedDefinitions().filter((d) => d.module !== pkg.name).map((d) => [d.type, d.module]));
    assert.ok(others.has('inject') && others.has('ui_gauge'), 'the core nodes and node-red-dashboard were scanned');
    assert.deepEqual(types.filter((t) => others.has(t)).map((t) => `${t} (${others.get(t)})`), []);

    const examples = readdirSync(path.join(ROOT, 'examples'));
    assert.deepEqual(examples.filter((f) => !f.endsWith('.json')), [], 'the validator reads every file in examples/ as a flow');
    const used = new Set(examples.flatMap((f) => (JSON.parse(readFileSync(path.join(ROOT, 'examples', f), 'utf8')) as { type: string }[]).map((n) => n.type)));
    assert.deepEqual(definitions.filter((d) => d.category !== 'config' && !used.has(d.type)).map((d) => d.type), [], 'every node has an example');
  });

  it('D01: at most 6 runtime dependencies, Node-RED and its dashboard not among them', () => {
    const runtime = Object.keys(pkg.dependencies ?? {});
    assert.ok(runtime.length <= 6, `${runtime.length}: ${runtime.join(', ')}`);
    for (const host of ['node-red', 'node-red-dashboard']) assert.ok(!runtime.includes(host), `${host} is a dev or peer dependency`);
  });

  it('D03: every runtime dependency allows its latest version that runs on our Node.js', async function () {
    this.timeout(180000);
    const ourNode = semver.minVersion(pkg.engines!.node!)!;
    for (const [name, range] of Object.entries(pkg.dependencies ?? {})) {
      const versions = (await npmView(name, 'versions')) as string[] | null;
      if (!versions) {
        console.log('      skipped: the npm registry is not reachable');
        return this.skip();
      }
      const stable = versions.filter((v) => !semver.prerelease(v)).sort(semver.rcompare);
      let latestCompatible: string | undefined;
      for (const version of stable) {
        const engines = (await npmView(`${name}@${version}`, 'engines.node')) as string | undefined;
        if (!engines || semver.satisfies(ourNode, engines)) {
          latestCompatible = version;
          break;
        }
      }
      assert.ok(latestCompatible, `${name}: a version that runs on Node.js ${ourNode}`);
      assert.ok(semver.satisfies(latestCompatible, range), `${name}: "${range}" allows ${latestCompatible}, the latest for Node.js ${ourNode}`);
    }
  });
});

describe('the Dashboard 2.0 widget package (packages/dashboard-2)', () => {
  const dir = path.join(ROOT, 'packages', 'dashboard-2');
  type WidgetPackage = Package & { 'node-red-dashboard-2': { widgets: Record<string, { output: string; component: string }> }; files: string[] };
  const widgets: WidgetPackage = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));

  it('is a workspace of this repository, named so that Dashboard 2.0 loads its widgets, with the main package\'s licence and ranges', () => {
    assert.ok((pkg as Package & { workspaces?: string[] }).workspaces?.includes('packages/dashboard-2'));
    // Dashboard 2.0 looks for third-party widgets only in packages whose name holds "node-red-dashboard-2-".
    assert.match(widgets.name, /^@[a-z\d][\w.-]+\/node-red-dashboard-2-[\w.-]+$/);
    assert.equal(widgets.license, pkg.license);
    assert.ok(existsSync(path.join(dir, 'LICENSE')) && existsSync(path.join(dir, 'README.md')));
    assert.ok(widgets.keywords?.includes('node-red') && widgets.keywords.includes('node-red-dashboard-2'));
    assert.equal(widgets['node-red'].version, pkg['node-red'].version);
    assert.equal(widgets.engines?.node, pkg.engines?.node);
    assert.deepEqual(Object.keys(widgets.dependencies ?? {}), [], 'Vue is Dashboard 2.0\'s own: nothing to install');
  });

  it('defines each widget inline, with a help text, a component in its resources file and a place in the dashboard-2 example', () => {
    const manifest = widgets['node-red'].nodes;
    const definitions = Object.values(manifest).flatMap((js) => definitionsIn(path.join(dir, js.replace(/\.js$/, '.html')), widgets.name));
    assert.deepEqual(definitions.flatMap((d) => d.notInline.map((key) => `${d.type}.${key}`)), []);
    const types = definitions.map((d) => d.type).sort();
    assert.deepEqual(types, Object.keys(widgets['node-red-dashboard-2'].widgets).sort(), 'every node is a widget Dashboard 2.0 knows of');
    const html = readFileSync(path.join(dir, 'nodes', 'widgets.html'), 'utf8');
    for (const type of types) assert.match(html, new RegExp(`data-help-name="${type}"`), `${type} has a help text`);
    const code = readFileSync(path.join(dir, 'resources', 'retail-analytics-widgets.js'), 'utf8');
    for (const [type, { output, component }] of Object.entries(widgets['node-red-dashboard-2'].widgets)) {
      assert.ok(existsSync(path.join(dir, 'resources', output)), `${type}: resources/${output}`);
      assert.ok(code.includes(`root['${type}'] = { ${component} }`), `${type}: ${output} puts ${component} where Dashboard 2.0 looks for it`);
    }
    const used = new Set((JSON.parse(readFileSync(path.join(ROOT, 'examples', 'dashboard-2.json'), 'utf8')) as { type: string }[]).map((n) => n.type));
    assert.deepEqual(types.filter((t) => !used.has(t)), [], 'every widget is in the dashboard-2 example');
  });
});
