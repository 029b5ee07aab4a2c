import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseJson } from '../../src/domain/json.ts';

/**
 * V8 (Node 24 and 26, nodejs/node#63785) misnames a key that starts with an escape once the
 * process has parsed an object whose key at that position is `\`. These tests first parse such
 * objects with the native JSON.parse, as any client of the service can make it do, and then
 * check that parseJson still names every property as the text spells it.
 */
function poison(entries: readonly (readonly [string, unknown])[]): void {
  for (let i = 0; i <= entries.length; i++) JSON.parse(JSON.stringify(Object.fromEntries([...entries.slice(0, i), ['\\', 0]])));
}

/** The text as encoders that escape every non-ASCII code unit write it (Python's json.dumps by default). */
function asciiOnly(text: string): string {
  return text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

void describe('parseJson', () => {
  void it('names properties spelled with a leading escape as sent, after the process parsed a key "\\\\" (the V8 bug\'s trigger)', () => {
    poison([]);
    poison([['', '']]);
    poison([['h', 1]]);
    assert.deepEqual(Object.keys(parseJson('{"\\u00e9t\\u00e9":1}') as object), ['été']);
    assert.deepEqual(Object.keys(parseJson('{"":"","\\n":0}') as object), ['', '\n']);
    assert.deepEqual(Object.keys(parseJson('{"h":1,"\\"":2}') as object), ['h', '"']);
    assert.deepEqual(Object.keys(parseJson('{"":"","\\ud800":0}') as object), ['', '\ud800']);
  });

  void it('reads what JSON.stringify wrote, escaped or not, after any poisoning (property)', () => {
    const key = fc.string({ unit: 'binary', maxLength: 4 });
    const entries = fc.array(fc.tuple(key, fc.jsonValue({ maxDepth: 2 })), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(entries, fc.boolean(), (list, ascii) => {
        poison(list);
        const text = JSON.stringify({ nested: Object.fromEntries(list), ...Object.fromEntries(list) });
        const sent = ascii ? asciiOnly(text) : text;
        assert.equal(JSON.stringify(parseJson(sent)), text);
      }),
      { numRuns: 500 },
    );
  });

  void it('keeps JSON.parse\'s answers otherwise: the last of duplicate names, __proto__ as an own property, syntax errors', () => {
    JSON.parse('{"\\\\":0}');
    const dup = parseJson('{"\\\\":1,"\\\\":2,"\\n":3}') as Record<string, number>;
    assert.deepEqual(Object.entries(dup), [['\\', 2], ['\n', 3]]);
    const proto = parseJson('{"\\\\":1,"__proto__":{"admin":true}}') as Record<string, unknown>;
    assert.ok(Object.hasOwn(proto, '__proto__'));
    assert.equal(Object.getPrototypeOf(proto), Object.prototype);
    assert.throws(() => parseJson('{"\\\\":1,}'), SyntaxError);
    assert.throws(() => parseJson('{"a":1'), SyntaxError);
  });
});
