import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
};

export interface StaticSite {
  /** The folder served; nothing outside it is ever read. */
  root: string;
  /** Extra files by URL path (e.g. `/vendor/chart.umd.js`), from installed npm packages. */
  files?: Record<string, string>;
  /** Small generated documents by URL path. */
  generated?: Record<string, () => { type: string; body: string }>;
}

function fail(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ error: message }));
}

/**
 * Serves a folder of static files, read-only. Paths are decoded once and resolved inside the folder; one that
 * would leave it (`..`, encoded or not), holds a NUL or names a folder is answered 404 without touching it.
 */
export function createStaticHandler(site: StaticSite): (req: IncomingMessage & { originalUrl?: string }, res: ServerResponse) => void {
  const root = path.resolve(site.root);
  return (req, res) => {
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, 'read-only');
      const raw = (req.url ?? '/').split('?')[0];
      let pathname: string;
      try {
        pathname = decodeURIComponent(raw);
      } catch {
        return fail(res, 400, 'badly encoded path');
      }
      const original = (req.originalUrl ?? '').split('?')[0];
      if (pathname === '/' && original !== '' && !original.endsWith('/')) {
        res.statusCode = 301;
        res.setHeader('Location', `${original}/`);
        return res.end();
      }
      const generated = site.generated?.[pathname];
      if (generated) {
        const { type, body } = generated();
        res.setHeader('Content-Type', type);
        res.setHeader('Cache-Control', 'no-store');
        return res.end(body);
      }
      // A file has no trailing slash: "/style.css/" is not "/style.css".
      if (pathname.includes('\0') || (pathname !== '/' && pathname.endsWith('/'))) return fail(res, 404, 'not found');
      const file = site.files?.[pathname] ?? path.resolve(root, `.${pathname === '/' ? '/index.html' : pathname}`);
      if (!site.files?.[pathname] && !file.startsWith(root + path.sep)) return fail(res, 404, 'not found');
      try {
        if (!(await stat(file)).isFile()) return fail(res, 404, 'not found');
        const body = await readFile(file);
        res.setHeader('Content-Type', TYPES[path.extname(file)] ?? 'application/octet-stream');
        res.setHeader('Cache-Control', 'no-cache');
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch {
        fail(res, 404, 'not found');
      }
    })();
  };
}
