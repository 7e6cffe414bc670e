/**
 * The dashboard's files: `GET /` is its page, `GET /dashboard/{file}` its scripts, styles and icon.
 * Plain ES modules, CSS and SVG shipped in the package (`scripts/copy-assets.mjs` copies them next
 * to the compiled code), read once at start and served from memory: nothing to build, nothing
 * fetched from elsewhere. Every answer carries a Content-Security-Policy that allows this origin
 * only, so the page cannot load or send anything anywhere else even if a bug tried.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkQuery } from './params.js';
import { ApiError } from './respond.js';
import type { Router } from './router.js';

export const STATIC_DIR = fileURLToPath(new URL('./dashboard/static/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

/** Every servable file of `dir` by name; other files (none today) are not served. */
export function loadStaticFiles(dir: string = STATIC_DIR): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type === undefined) continue;
    const body = readFileSync(join(dir, name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    files.set(name, { body, type, etag });
  }
  return files;
}

export function registerStaticRoutes(
  router: Router,
  files: Map<string, StaticFile> = loadStaticFiles(),
): void {
  const serve = (name: string): Parameters<Router['on']>[2] => {
    return ({ req, res, query }) => {
      const file = files.get(name);
      if (!file) throw new ApiError(404, 'not_found', `no dashboard file ${name.slice(0, 100)}`);
      const headers = {
        ...SECURITY_HEADERS,
        'content-type': file.type,
        // Revalidate every time: a restarted worker may serve a newer dashboard; 304s keep it cheap.
        'cache-control': 'no-cache',
        etag: file.etag,
      };
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers);
        res.end();
        return;
      }
      // The page takes no query; its scripts are addressed by name alone.
      if (name !== 'index.html') checkQuery(query, []);
      res.writeHead(200, { ...headers, 'content-length': file.body.length });
      res.end(file.body);
    };
  };
  router.on('GET', '/', serve('index.html'));
  router.on('GET', '/dashboard/{file}', (ctx) => serve(ctx.params['file'] ?? '')(ctx));
}
