import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type TestApp, buildTestApp } from '../helpers/app.ts';

describe('rate limiting', () => {
  let t: TestApp;
  before(async () => {
    t = await buildTestApp({ RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_MS: '60000' });
  });
  after(() => t.close());

  it('answers 429 with Retry-After past the per-user limit; other users and ops routes are unaffected', async () => {
    const alice = await t.auth('alice');
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) {
      codes.push((await t.app.inject({ method: 'POST', url: '/api/v1/events', headers: alice, payload: { type: 'click' } })).statusCode);
    }
    assert.deepEqual(codes, [202, 202, 202, 429, 429]);
    const limited = await t.app.inject({ method: 'POST', url: '/api/v1/events', headers: alice, payload: { type: 'click' } });
    assert.equal(limited.statusCode, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After is set');
    assert.match(limited.headers['content-type'] ?? '', /problem\+json/);
    const bob = await t.auth('bob');
    assert.equal((await t.app.inject({ method: 'POST', url: '/api/v1/events', headers: bob, payload: { type: 'click' } })).statusCode, 202);
    for (let i = 0; i < 5; i++) assert.equal((await t.app.inject('/healthz')).statusCode, 200);
  });
});
