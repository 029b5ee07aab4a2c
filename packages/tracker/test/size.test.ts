import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { build } from 'esbuild';

/** The script-tag bundle's budget: 6 KB minified and gzipped (the figure pages pay for). */
const BUDGET_BYTES = 6 * 1024;

describe('tracker bundle size', () => {
  it(`is at most ${BUDGET_BYTES} bytes minified + gzipped, with no runtime dependency`, async () => {
    const result = await build({
      entryPoints: [new URL('../src/index.ts', import.meta.url).pathname],
      bundle: true,
      format: 'iife',
      globalName: 'ugc',
      minify: true,
      target: ['chrome90', 'firefox90', 'safari15'],
      legalComments: 'none',
      write: false,
      metafile: true,
    });
    const code = result.outputFiles[0]?.contents ?? new Uint8Array();
    const gzipped = gzipSync(code, { level: 9 }).length;
    console.log(`tracker.min.js: ${code.length} B minified, ${gzipped} B min+gzip (budget ${BUDGET_BYTES})`);
    assert.ok(gzipped <= BUDGET_BYTES, `${gzipped} B > ${BUDGET_BYTES} B`);
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(inputs.every((path) => !path.includes('node_modules')), `bundled dependencies: ${inputs.join(', ')}`);
  });
});
