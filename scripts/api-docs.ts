// Regenerates docs/api.md, the HTTP API reference, from the OpenAPI document the service
// publishes at /openapi.json: `npm run docs:api`. The app is built in-process on the embedded
// backends in a temporary directory, as the tests build it; test/api/openapi.test.ts checks
// that docs/api.md equals a fresh rendering.
import { writeFileSync } from 'node:fs';
import { buildTestApp } from '../test/helpers/app.ts';
import { type OpenApiDocument, renderApiMarkdown } from './openapi-markdown.ts';

/** What docs/api.md says made it. */
export const API_DOCS_GENERATOR = '`npm run docs:api` (scripts/api-docs.ts)';
export const API_DOCS = new URL('../docs/api.md', import.meta.url);

if (import.meta.main) {
  const t = await buildTestApp();
  try {
    const doc = (await t.app.inject('/openapi.json')).json<OpenApiDocument>();
    writeFileSync(API_DOCS, renderApiMarkdown(doc, API_DOCS_GENERATOR));
    process.stdout.write(`wrote ${API_DOCS.pathname}\n`);
  } finally {
    await t.close();
  }
}
