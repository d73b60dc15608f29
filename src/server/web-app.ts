import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { App } from './types.ts';

// The browser app (web/, built by `npm install` into web/dist) served at `/`:
// hashed assets cached for a year, the HTML never cached, and any other GET of a
// page (a deep link such as /runs/<id>) answered with the app, which routes it.
// Files are listed once at start; nothing outside web/dist can be asked for.

export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Paths that belong to the API and the server's own pages, never to the app. */
const SERVER_PREFIXES = ['/api/', '/d/', '/docs', '/healthz', '/readyz', '/metrics', '/invite'];

interface WebFile {
  path: string;
  type: string;
  size: number;
  gzip: { path: string; size: number } | null;
  immutable: boolean;
}

export interface WebApp {
  /** Answers a GET of an app page or asset; false when the request is not the app's. */
  serve(request: FastifyRequest, reply: FastifyReply): boolean;
}

async function listFiles(dir: string): Promise<Map<string, WebFile>> {
  const files = new Map<string, WebFile>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const names = new Set(entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)));
  for (const path of names) {
    if (path.endsWith('.gz')) continue;
    const url = `/${relative(dir, path).split(sep).join('/')}`;
    const gzPath = `${path}.gz`;
    files.set(url, {
      path,
      type: TYPES[extname(path)] ?? 'application/octet-stream',
      size: (await stat(path)).size,
      gzip: names.has(gzPath) ? { path: gzPath, size: (await stat(gzPath)).size } : null,
      immutable: url.startsWith('/assets/'),
    });
  }
  return files;
}

/** Loads the built app; undefined when web/dist has not been built. */
export async function loadWebApp(dir = WEB_DIST): Promise<WebApp | undefined> {
  const index = await readFile(join(dir, 'index.html')).catch(() => undefined);
  if (!index) return undefined;
  const files = await listFiles(dir);
  const indexFile = files.get('/index.html')!;

  const send = (request: FastifyRequest, reply: FastifyReply, file: WebFile) => {
    const gzip = file.gzip && /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    reply.header('content-type', file.type);
    reply.header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    reply.header('vary', 'accept-encoding');
    reply.header('x-content-type-options', 'nosniff');
    if (gzip && file.gzip) {
      reply.header('content-encoding', 'gzip');
      reply.header('content-length', String(file.gzip.size));
      reply.send(request.method === 'HEAD' ? '' : createReadStream(file.gzip.path));
    } else {
      reply.header('content-length', String(file.size));
      reply.send(request.method === 'HEAD' ? '' : createReadStream(file.path));
    }
  };

  return {
    serve(request, reply) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return false;
      const path = request.url.split('?')[0]!;
      if (SERVER_PREFIXES.some((p) => path === p.replace(/\/$/, '') || path.startsWith(p))) return false;
      const file = files.get(path);
      if (file && path !== '/index.html') {
        send(request, reply, file);
        return true;
      }
      // A missing asset is a 404, not the app (a stale cached page asking for an old chunk must see it).
      if (path.startsWith('/assets/') || extname(path) !== '') return false;
      send(request, reply, indexFile);
      return true;
    },
  };
}

/** When the app was not built: `/` says how to build it instead of a bare 404. */
export function registerMissingWebApp(app: App): void {
  app.get('/', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .send(
        '<!doctype html><meta charset="utf-8"><title>Ferry</title><h1>Ferry</h1><p>The web app is not built. Run <code>npm install</code> (or <code>npm run build:web</code>) in Ferry\'s folder and restart. The API is documented at <a href="/docs">/docs</a>.</p>',
      ),
  );
}
