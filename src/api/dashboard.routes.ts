import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';

/**
 * The admin dashboard: `/dashboard` is a static page (no data: it asks for an admin token and
 * reads the admin API with it), `/dashboard/app.js` its script with Apache ECharts, bundled by
 * esbuild from `src/dashboard/` on the first request and kept in memory (no build output in the
 * repository, nothing from a CDN).
 */
const DASHBOARD_DIR = join(import.meta.dirname, '../dashboard');

let bundle: Promise<string> | undefined;

/** The page script, bundled once per process; a failed bundle is retried on the next request. */
export function dashboardScript(): Promise<string> {
  bundle ??= (async () => {
    const { build } = await import('esbuild');
    const result = await build({
      entryPoints: [join(DASHBOARD_DIR, 'app.ts')],
      bundle: true,
      minify: true,
      format: 'iife',
      target: 'es2022',
      write: false,
      legalComments: 'none',
      logLevel: 'silent',
    });
    return result.outputFiles[0]?.text ?? '';
  })().catch((err: unknown) => {
    bundle = undefined;
    throw err;
  });
  return bundle;
}

const dashboard: FastifyPluginAsyncTypebox = (app) => {
  const page = readFileSync(join(DASHBOARD_DIR, 'index.html'), 'utf8');
  app.get('/dashboard', { schema: { hide: true } }, (_request, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(page),
  );
  app.get('/dashboard/app.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(await dashboardScript()),
  );
  return Promise.resolve();
};

export default dashboard;
