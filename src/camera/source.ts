import { existsSync } from 'node:fs';
import * as path from 'node:path';

export type VideoSource =
  | { kind: 'file'; path: string }
  | { kind: 'usb'; device: number | string }
  | { kind: 'stream'; url: string };

const STREAM_URL = /^(rtsps?|rtmp|https?|udp|tcp|srt):\/\//i;
const SAMPLE_PREFIX = 'sample:';

/** Folders where distributions put OpenCV's sample data (Debian/Ubuntu's opencv-doc, source installs). */
export function sampleDataFolders(): string[] {
  return [
    process.env.OPENCV_SAMPLES_DATA_PATH,
    '/usr/share/doc/opencv-doc/examples/data',
    '/usr/share/opencv4/samples/data',
    '/usr/local/share/opencv4/samples/data',
    '/usr/share/OpenCV/samples/data',
  ].filter((folder): folder is string => Boolean(folder));
}

/** Finds one of OpenCV's sample files (e.g. vtest.avi) wherever the distribution installed it. */
export function findSampleFile(name: string): string | undefined {
  if (name !== path.basename(name)) return undefined;
  return sampleDataFolders().map((folder) => path.join(folder, name)).find((file) => existsSync(file));
}

/**
 * Understands what a user types as a camera source: a device index (`0`), a device node
 * (`/dev/video0`), a stream URL (`rtsp://…`, `http://…`), `sample:vtest.avi`, or a file path.
 */
export function parseSource(text: string): VideoSource {
  const source = text.trim();
  if (source === '') throw new Error('no camera source given: enter a file path, a device such as 0 or /dev/video0, or an rtsp:// URL');
  if (/^\d+$/.test(source)) return { kind: 'usb', device: Number(source) };
  if (/^\/dev\/video\d+$/.test(source)) return { kind: 'usb', device: source };
  if (STREAM_URL.test(source)) return { kind: 'stream', url: source };
  if (source.startsWith(SAMPLE_PREFIX)) {
    const name = source.slice(SAMPLE_PREFIX.length);
    const file = findSampleFile(name);
    if (!file) {
      throw new Error(`sample video ${name} not found in ${sampleDataFolders().join(', ')} (Debian/Ubuntu: apt-get install opencv-doc)`);
    }
    return { kind: 'file', path: file };
  }
  return { kind: 'file', path: path.resolve(source) };
}

export function isLive(source: VideoSource): boolean {
  return source.kind !== 'file';
}

/**
 * A stream URL with a user name and password put in (replacing any it had), for sources whose credentials are
 * kept apart from the flow. Other sources, and empty credentials, leave the text as it is.
 */
export function withCredentials(text: string, username = '', password = ''): string {
  const source = text.trim();
  if ((!username && !password) || !STREAM_URL.test(source)) return source;
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new Error('the stream URL is not valid: check its host and port');
  }
  url.username = username;
  url.password = password;
  return url.toString();
}

/** Hides a stream URL's password wherever it appears in `text` (FFmpeg's messages quote the URL). */
export function redactSecrets(text: string, source: VideoSource): string {
  if (source.kind !== 'stream') return text;
  let password = '';
  try {
    password = decodeURIComponent(new URL(source.url).password);
  } catch {
    // Not a parseable URL: the pattern below still hides user:password@.
  }
  let redacted = text.split(source.url).join(describeSource(source)).replace(/\/\/([^:/@\s]+):[^@/\s]*@/g, '//$1:***@');
  if (password.length >= 3) redacted = redacted.split(password).join('***');
  return redacted;
}

/** The source as shown to users and in the API, with any password in a URL hidden. */
export function describeSource(source: VideoSource): string {
  switch (source.kind) {
    case 'file': return source.path;
    case 'usb': return typeof source.device === 'number' ? `camera ${source.device}` : source.device;
    case 'stream': return source.url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
  }
}
