import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { retryAfterMs, retryDelayMs } from '../src/backoff.ts';

describe('tracker back-off', () => {
  const opts = (random: number) => ({ minMs: 1000, maxMs: 60_000, now: Date.parse('2026-01-01T00:00:00Z'), random });

  it('doubles from minMs up to maxMs, with equal jitter (half fixed, half random)', () => {
    assert.equal(retryDelayMs(0, null, opts(0)), 500);
    assert.equal(retryDelayMs(0, null, opts(0.999_999)), 999.9995);
    assert.equal(retryDelayMs(3, null, opts(0)), 4000);
    assert.equal(retryDelayMs(40, null, opts(0)), 30_000, 'capped');
    fc.assert(
      fc.property(fc.nat(100), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, random) => {
        const cap = Math.min(60_000, 1000 * 2 ** Math.min(attempt, 30));
        const d = retryDelayMs(attempt, null, opts(random));
        return d >= cap / 2 && d <= cap;
      }),
    );
  });

  it('never waits less than Retry-After, in seconds or as an HTTP date', () => {
    assert.equal(retryDelayMs(0, '7', opts(0.5)), 7000);
    assert.equal(retryDelayMs(10, '1', opts(0)), 30_000, 'a longer back-off wins');
    assert.equal(retryDelayMs(0, 'Thu, 01 Jan 2026 00:00:30 GMT', opts(0)), 30_000);
    assert.equal(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', Date.parse('2026-01-01T00:00:00Z')), 0, 'a date in the past: now');
    for (const junk of [null, '', '  ', 'soon', '-3', '1.5']) assert.equal(retryAfterMs(junk, 0), undefined, String(junk));
  });
});
