import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

/**
 * The npm scripts that pick test files: each hands `node --test` quoted glob patterns, which Node
 * expands itself (fs.globSync's syntax, extglob included), so the selection needs no shell
 * utilities (`find`, `sort`) and means the same under any shell npm uses. Here the patterns are
 * expanded the same way and checked to sort every test file into exactly one suite.
 */
const ROOT = new URL('../', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };

/** The files `node --test` runs for the npm script `name`: its double-quoted glob arguments, expanded. */
function filesOf(name: string): string[] {
  const script = pkg.scripts[name] ?? '';
  assert.match(script, /^node --test /, `${name} runs node --test`);
  const patterns = [...script.matchAll(/"([^"]+)"/g)].map((m) => m[1] ?? '');
  assert.ok(patterns.length > 0, `${name} names its files with quoted glob patterns`);
  return patterns.flatMap((p) => globSync(p, { cwd: ROOT })).sort();
}

describe('npm test scripts', () => {
  it('use no shell-only constructs: no command substitution, pipes, find/sort or single quotes', () => {
    for (const [name, script] of Object.entries(pkg.scripts).filter(([n]) => n === 'test' || n.startsWith('test:') || n === 'typecheck' || n === 'lint')) {
      // Outside the quoted glob patterns, whose `|` belongs to extglob.
      const unquoted = script.replace(/"[^"]*"/g, '""');
      assert.doesNotMatch(unquoted, /\$\(|`|(?<!\|)\|(?!\|)|\bfind\b|\bsort\b|'/, `${name}: ${script}`);
    }
  });

  it('put every *.test.ts file in exactly one of test:unit, test:engines and test:deploy', () => {
    const unit = filesOf('test:unit');
    const engines = filesOf('test:engines');
    const tools = filesOf('test:deploy');
    const all = globSync('{test,packages/tracker/test}/**/*.test.ts', { cwd: ROOT }).sort();
    assert.deepEqual([...unit, ...engines, ...tools].sort(), all, 'each file once, none left out');
    assert.ok(engines.length > 0 && engines.every((f) => f.endsWith('.engines.test.ts')));
    assert.ok(tools.length > 0 && tools.every((f) => f.endsWith('.tools.test.ts')));
    assert.ok(unit.some((f) => f.startsWith('packages/tracker/test/')), 'the tracker package tests run in npm test');
    assert.ok(unit.includes('test/npm-scripts.test.ts'));
  });

  it('run the browser and chaos suites from their own files', () => {
    assert.ok(filesOf('test:browser').length > 0 && filesOf('test:browser').every((f) => f.endsWith('.browser.ts')));
    assert.ok(filesOf('test:chaos').length > 0 && filesOf('test:chaos').every((f) => f.endsWith('.chaos.ts')));
  });

  it('npm test is type-check, lint and the unit suite, with nothing before it that needs other tools', () => {
    assert.equal(pkg.scripts.test, 'npm run typecheck && npm run lint && npm run test:unit');
    for (const hook of ['pretest', 'posttest', 'pretest:unit', 'pretypecheck', 'prelint']) assert.equal(pkg.scripts[hook], undefined, hook);
    assert.equal(pkg.scripts['pretest:deploy'], 'bash scripts/ci/tools.sh', 'the tools are installed for test:deploy only');
  });
});
