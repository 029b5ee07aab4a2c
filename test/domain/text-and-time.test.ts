import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_BODY_DEPTH, TooDeepError, decodeUtf8Marked, illFormedText } from '../../src/domain/text.ts';
import { STORABLE_MAX_MS, clampToStorable, isStorable, parseRfc3339 } from '../../src/domain/time.ts';

/** Issue #7: the text and time rules every input goes through, over generated input. */
describe('decodeUtf8Marked', () => {
  it('decodes valid UTF-8 exactly as TextDecoder does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        assert.equal(decodeUtf8Marked(Buffer.from(s)), new TextDecoder().decode(Buffer.from(s)));
      }),
    );
  });

  it('turns every invalid sequence into lone surrogates where TextDecoder writes U+FFFD, and nothing else changes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const marked = decodeUtf8Marked(bytes);
        const replaced = new TextDecoder().decode(bytes);
        let valid = true;
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch {
          valid = false;
        }
        assert.equal(marked.isWellFormed(), valid);
        // Where the marked text has a run of marks, the replaced text has one or more U+FFFD.
        assert.equal(marked.replace(/\udfff+/g, '\ufffd'), replaced.replace(/\ufffd+/g, '\ufffd'));
      }),
    );
  });
});

describe('illFormedText', () => {
  it('names every string and key with a lone surrogate by its JSON Pointer', () => {
    assert.deepEqual(illFormedText({ a: ['ok', 'x\ud800'], 'b/~\udc00': { c: 1, d: '\ud83d\ude00' } }), [
      { path: '/a/1', message: 'must be well-formed Unicode (no lone surrogates or invalid UTF-8)' },
      { path: '/b~1~0\udc00', message: 'its name must be well-formed Unicode (no lone surrogates or invalid UTF-8)' },
    ]);
    assert.deepEqual(illFormedText('\ud800'), [{ path: '/', message: 'must be well-formed Unicode (no lone surrogates or invalid UTF-8)' }]);
  });

  it(`refuses nesting deeper than ${MAX_BODY_DEPTH} levels, however deep, without overflowing the stack`, () => {
    const nest = (depth: number): unknown => JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
    assert.deepEqual(illFormedText(nest(MAX_BODY_DEPTH)), []);
    assert.throws(() => illFormedText(nest(MAX_BODY_DEPTH + 1)), TooDeepError);
    assert.throws(() => illFormedText(nest(100_000)), TooDeepError);
  });
});

describe('parseRfc3339', () => {
  it('reads every rendering of an instant (offsets, separators, 0..9 fraction digits) as that instant, truncated to ms', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -62_135_596_800_000, max: Date.UTC(9999, 11, 30) }), // 0001-01-01 .. 9999-12-30
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        fc.constantFrom('T', 't', ' '),
        fc.integer({ min: 0, max: 9 }),
        (ms, offset, separator, digits) => {
          const local = new Date(ms + offset * 60_000);
          if (local.getUTCFullYear() < 0 || local.getUTCFullYear() > 9999) return;
          const iso = local.toISOString();
          const fraction = digits === 0 ? '' : `.${`${iso.slice(20, 23)}456789`.slice(0, digits)}`;
          const zone = offset === 0 ? 'Z' : `${offset < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offset) / 60)).padStart(2, '0')}:${String(Math.abs(offset) % 60).padStart(2, '0')}`;
          const text = `${iso.slice(0, 10)}${separator}${iso.slice(11, 19)}${fraction}${zone}`;
          const unit = digits >= 3 ? 1 : 10 ** (3 - digits);
          const expected = Math.floor(local.getTime() / unit) * unit - offset * 60_000;
          assert.equal(parseRfc3339(text), expected, text);
        },
      ),
    );
  });

  it('reads a leap second as 23:59:59.999 UTC of its day, and only at 23:59 UTC', () => {
    assert.equal(parseRfc3339('2016-12-31T23:59:60Z'), Date.UTC(2016, 11, 31, 23, 59, 59, 999));
    assert.equal(parseRfc3339('2016-12-31T23:59:60.5Z'), Date.UTC(2016, 11, 31, 23, 59, 59, 999));
    assert.equal(parseRfc3339('2016-12-31T18:59:60-05:00'), Date.UTC(2016, 11, 31, 23, 59, 59, 999));
    assert.equal(parseRfc3339('2017-01-01T00:29:60+00:30'), Date.UTC(2016, 11, 31, 23, 59, 59, 999));
    for (const text of ['2016-12-31T22:59:60Z', '2016-12-31T23:58:60Z', '2016-12-31T23:59:60+01:00', '2016-12-31T23:59:61Z']) {
      assert.ok(Number.isNaN(parseRfc3339(text)), text);
    }
  });

  it('refuses what RFC 3339 does not allow, though Date.parse or ajv-formats took it', () => {
    for (const text of ['2026-03-10T12:00:00+0100', '2026-03-10T12:00:00+01', '2026-03-10\n12:00:00Z', '2026-03-10T24:00:00Z', '2023-02-29T00:00:00Z', '2026-03-10T12:00:00+24:00', '2026-03-10T12:00Z']) {
      assert.ok(Number.isNaN(parseRfc3339(text)), text);
    }
  });
});

describe('the storable range', () => {
  it('is 1970-01-01T00:00:00.000Z to 2299-12-31T23:59:59.999Z; query bounds outside it clamp to it', () => {
    assert.ok(isStorable(0) && isStorable(STORABLE_MAX_MS));
    assert.ok(!isStorable(-1) && !isStorable(STORABLE_MAX_MS + 1));
    assert.equal(new Date(STORABLE_MAX_MS).toISOString(), '2299-12-31T23:59:59.999Z');
    assert.equal(clampToStorable(-62_167_219_200_000), 0);
    assert.equal(clampToStorable(Date.UTC(9999, 11, 31)), STORABLE_MAX_MS + 1);
    assert.equal(clampToStorable(1_000), 1_000);
  });
});
