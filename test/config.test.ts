import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError, VARIABLES, loadConfig } from '../src/config.ts';

describe('configuration', () => {
  it('has working defaults for the embedded mode', () => {
    const config = loadConfig({});
    assert.equal(config.server.port, 8000);
    assert.equal(config.server.host, '127.0.0.1', 'this machine only, unless HOST says otherwise');
    assert.equal(config.log.format, 'auto');
    assert.equal(config.eventLog.backend, 'sqlite');
    assert.equal(config.warehouse.backend, 'chdb');
    assert.equal(config.store.backend, 'sqlite');
    assert.equal(config.server.bodyLimitBytes, 1024 * 1024);
    assert.ok(config.eventLog.path.endsWith('data/event-log.sqlite'));
  });

  it('parses values into a typed, nested object', () => {
    const config = loadConfig({ PORT: '9000', ETL_BATCH_SIZE: '10', TRUST_PROXY: 'true', DATA_DIR: '/var/lib/ugc', EVENT_LOG_RETENTION_HOURS: '2' });
    assert.equal(config.server.port, 9000);
    assert.equal(config.etl.batchSize, 10);
    assert.equal(config.server.trustProxy, true);
    assert.equal(config.store.path, '/var/lib/ugc/ugc.sqlite');
    assert.equal(config.eventLog.retentionMs, 7_200_000);
  });

  it('names every bad variable at once, with what was expected', () => {
    try {
      loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud', EVENT_LOG: 'carrier-pigeon', AUTH_JWT_SECRET: 'short', EVENTS_TOPIC: 'no spaces' });
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      const named = err.problems.map((p) => p.split('=')[0]);
      assert.deepEqual(named.sort(), ['AUTH_JWT_SECRET', 'EVENTS_TOPIC', 'EVENT_LOG', 'LOG_LEVEL', 'PORT']);
      assert.match(err.message, /PORT="eighty": expected an integer in 0\.\.65535/);
    }
  });

  it('names a bad secret without printing its value', () => {
    const secrets = {
      AUTH_JWT_SECRET: 'hunter2-too-short',
      MONGODB_URL: 'mongdb://admin:s3cr3t-pw@db.internal/ugc',
      CLICKHOUSE_URL: 'ht tp://default:s3cr3t-ch@ch.internal:8123',
      SENTRY_DSN: 'not a dsn s3cr3t-key',
      AUTH_JWKS_URL: 'jwks s3cr3t',
    };
    const err = (() => {
      try {
        loadConfig(secrets);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems.length, Object.keys(secrets).length);
    for (const name of Object.keys(secrets)) assert.match(err.message, new RegExp(`${name}=\\(value hidden\\): expected `));
    assert.doesNotMatch(err.message, /hunter2|s3cr3t/);
  });

  it('checks rules across variables', () => {
    assert.throws(() => loadConfig({ AUTH_JWT_ALGORITHM: 'RS256' }), /needs exactly one of them/);
    assert.throws(() => loadConfig({ ETL_RETRY_MIN_MS: '5000', ETL_RETRY_MAX_MS: '100' }), /ETL_RETRY_MIN_MS/);
    assert.throws(() => loadConfig({ EVENTS_TOPIC: 'a', EVENTS_DLQ_TOPIC: 'a' }), /EVENTS_DLQ_TOPIC/);
  });

  it('documents every variable in .env.sample and in the README', () => {
    const sample = readFileSync(new URL('../.env.sample', import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const inSample = new Set([...sample.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    for (const name of Object.keys(VARIABLES)) {
      assert.ok(inSample.has(name), `${name} is in .env.sample`);
      assert.ok(readme.includes(`\`${name}\``), `${name} is in the README configuration table`);
    }
    for (const name of inSample) assert.ok(name !== undefined && name in VARIABLES, `${name} in .env.sample is a real variable`);
  });
});

describe('configuration: CORS and the demo page', () => {
  it('allows no origin and no demo page by default', () => {
    const config = loadConfig({});
    assert.deepEqual(config.cors, { origins: [], credentials: false, maxAgeSeconds: 600 });
    assert.equal(config.web.demoPage, false);
  });

  it('parses a list of origins, or *', () => {
    assert.deepEqual(loadConfig({ CORS_ORIGINS: 'https://cinema.example, http://localhost:3000,' }).cors.origins, ['https://cinema.example', 'http://localhost:3000']);
    assert.equal(loadConfig({ CORS_ORIGINS: '*' }).cors.origins, '*');
    assert.equal(loadConfig({ CORS_ORIGINS: 'https://cinema.example', CORS_CREDENTIALS: 'true' }).cors.credentials, true);
    assert.equal(loadConfig({ DEMO_PAGE: 'true' }).web.demoPage, true);
  });

  it('refuses anything that is not an origin as a browser sends it', () => {
    for (const bad of ['cinema.example', 'https://cinema.example/', 'https://cinema.example/path', 'https://CINEMA.example', 'https://cinema.example:443', 'ftp://cinema.example', 'https://a.example, *', ',', 'http://*.example.com', 'https://*']) {
      assert.throws(() => loadConfig({ CORS_ORIGINS: bad }), /CORS_ORIGINS=/, bad);
    }
  });

  it('refuses * together with credentials', () => {
    assert.throws(() => loadConfig({ CORS_ORIGINS: '*', CORS_CREDENTIALS: 'true' }), /CORS_CREDENTIALS: must not be true with CORS_ORIGINS=\*/);
  });
});
