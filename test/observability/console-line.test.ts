import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { consoleLine } from '../../src/observability/console-line.ts';
import { createLogger, isPretty } from '../../src/observability/logger.ts';

/** A logger writing pretty lines into an array. */
function prettyLogger(level = 'info'): { logger: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      done();
    },
  });
  return { logger: createLogger({ level, destination: sink, pretty: true }), lines };
}

describe('console log lines (LOG_FORMAT=pretty)', () => {
  it('prints a request as method, path, status, duration and user', () => {
    const line = consoleLine(
      {
        msg: 'request completed',
        'http.request.method': 'POST',
        'url.path': '/api/v1/events',
        'http.response.status_code': 202,
        'event.duration': 3_250_000,
        'user.id': 'user_123',
        'client.ip': '127.0.0.1',
        'user_agent.original': 'curl/8.5.0',
        'http.request.id': 'a1',
      },
      'msg',
    );
    assert.equal(line, 'POST /api/v1/events 202 3.3 ms user=user_123');
  });

  it('says where the service listens, where the docs are and how to get a token', () => {
    const line = consoleLine(
      { msg: 'UGC Service listening', listen_url: 'http://127.0.0.1:8000', docs_url: 'http://127.0.0.1:8000/docs', token_command: 'npm run token -- --user user_123', store: 'sqlite' },
      'msg',
    );
    assert.equal(line, 'UGC Service listening on http://127.0.0.1:8000 — API docs: http://127.0.0.1:8000/docs — a token: npm run token -- --user user_123 store=sqlite');
  });

  it("adds an error's message, never its stack, and the component in front", () => {
    const err = { type: 'Error', message: 'boom\nsecond line', stack: 'Error: boom\n    at x (y.ts:1:1)' };
    assert.equal(consoleLine({ msg: 'shutdown failed', err, component: 'etl', attempt: 3, reasons: ['a b'] }, 'msg'), 'etl: shutdown failed: boom attempt=3 reasons=["a b"]');
  });

  it('is one line whatever the entry holds', () => {
    fc.assert(
      fc.property(fc.string(), fc.dictionary(fc.string(), fc.jsonValue()), (msg, fields) => {
        const line = consoleLine({ ...fields, msg }, 'msg');
        assert.doesNotMatch(line, /[\r\n]/);
      }),
    );
  });

  it('writes `[time] LEVEL: text`, one line per entry, through createLogger', () => {
    const { logger, lines } = prettyLogger();
    logger.info({ applied: [1, 2] }, 'warehouse migrations applied');
    logger.child({ component: 'etl' }).error({ err: new Error('insert failed\nat depth') }, 'ETL stopped');
    logger.info({ token: 'eyJ.secret.sig' }, 'minted');
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.match(lines[0] ?? '', /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: warehouse migrations applied applied=\[1,2\]$/);
    assert.match(lines[1] ?? '', /^\[\d\d:\d\d:\d\d\.\d{3}\] ERROR: etl: ETL stopped: insert failed$/);
    assert.match(lines[2] ?? '', /INFO: minted token=\[redacted\]$/);
  });

  it('is chosen by LOG_FORMAT, and by the terminal under auto', () => {
    assert.equal(isPretty('auto', true), true);
    assert.equal(isPretty('auto', false), false);
    assert.equal(isPretty('auto', undefined), false, 'a worker thread or a pipe');
    assert.equal(isPretty('pretty', false), true);
    assert.equal(isPretty('json', true), false);
  });
});
