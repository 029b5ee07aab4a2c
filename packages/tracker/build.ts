// Builds the tracker: `node packages/tracker/build.ts` (the repository's `npm install` runs it
// through `prepare`). dist/ is not committed.
//   dist/tracker.js      ESM, for bundlers:   import * as ugc from '@ugc/tracker'
//   dist/tracker.min.js  IIFE for a <script> tag: a global `ugc`; the service serves it at /tracker.js
import { type BuildOptions, build } from 'esbuild';

const here = new URL('./', import.meta.url).pathname;
// Private fields, `??=` and optional chaining stay as written: every browser of the last four years runs them.
const common: BuildOptions = { entryPoints: [`${here}src/index.ts`], bundle: true, target: ['chrome90', 'firefox90', 'safari15'], legalComments: 'none', logLevel: 'warning' };

await Promise.all([
  build({ ...common, format: 'esm', outfile: `${here}dist/tracker.js`, minify: false }),
  build({ ...common, format: 'iife', globalName: 'ugc', outfile: `${here}dist/tracker.min.js`, minify: true }),
]);
