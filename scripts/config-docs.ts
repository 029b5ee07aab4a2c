// Regenerates .env.sample and the README's configuration table from src/config.ts, the one
// list of variables: `node scripts/config-docs.ts`. test/config.test.ts checks they agree.
import { readFileSync, writeFileSync } from 'node:fs';
import { VARIABLES } from '../src/config.ts';

const root = new URL('../', import.meta.url);
const sample = [
  '# UGC Service configuration. Copy to .env and adjust; every variable is optional.',
  '# `npm start` (and every other command) reads .env from the working directory; real environment variables take precedence.',
  '',
];
const table = ['| Variable | Default | Meaning |', '|---|---|---|'];
for (const [name, spec] of Object.entries(VARIABLES)) {
  const fallback = 'default' in spec ? spec.default : undefined;
  sample.push(`# ${spec.description}`, fallback === undefined ? `# ${name}=` : `${name}=${fallback}`, '');
  table.push(`| \`${name}\` | ${fallback === undefined ? '—' : `\`${fallback}\``} | ${spec.description.replaceAll('|', '\\|')} |`);
}
writeFileSync(new URL('.env.sample', root), sample.join('\n'));

const readmeUrl = new URL('README.md', root);
const readme = readFileSync(readmeUrl, 'utf8');
const start = readme.indexOf('| Variable | Default | Meaning |');
const end = readme.indexOf('\n\n', start);
if (start < 0 || end < 0) throw new Error('README has no configuration table to replace');
writeFileSync(readmeUrl, readme.slice(0, start) + table.join('\n') + readme.slice(end));
