import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type RunningService, runCli, startService, stopAll } from '../helpers/service.ts';
import { closedPort } from '../helpers/cli.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

/**
 * The nginx configuration shipped in deploy/nginx, run for real (Debian's nginx) in front of the
 * real service process. The files are rendered from the shipped ones by replacing addresses and
 * paths only; every replacement must match, so the test cannot drift from what is deployed.
 * Between nginx and the app sits a transparent TCP relay that counts connections, which is how
 * upstream keep-alive is observed.
 */
const DEPLOY_NGINX = new URL('../../deploy/nginx/', import.meta.url).pathname;
/** The one origin the service behind nginx allows (CORS_ORIGINS). */
const CINEMA = 'https://cinema.example';
const INSTALL_HINT = 'run `bash scripts/ci/nginx.sh` (installs Debian\'s nginx; .ci/run does it before the tests)';

function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx']) if (existsSync(candidate)) return candidate;
  try {
    return execFileSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`nginx is not installed: ${INSTALL_HINT}. This suite never skips.`);
  }
}

/** Replaces `from` (which must occur `times` times) with `to`. */
function substitute(text: string, file: string, from: string, to: string, times = 1): string {
  const found = text.split(from).length - 1;
  assert.equal(found, times, `${file}: expected "${from}" ${times} time(s), found ${found}; update the rendering in this test`);
  return text.replaceAll(from, to);
}

/** A TCP relay to the app that counts the connections nginx opens to its upstream. */
async function countingRelay(targetPort: number): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    count += 1;
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

async function eventually<T>(probe: () => T | Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms; last: ${JSON.stringify(value)?.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** True when some field (at any depth, dotted ECS keys or nested objects) equals `value`. */
function hasValue(entry: unknown, value: string): boolean {
  if (entry === value) return true;
  if (entry === null || typeof entry !== 'object') return false;
  return Object.values(entry).some((v) => hasValue(v, value));
}

describe('deploy/nginx in front of the service (real nginx)', () => {
  let tmp: TempDir;
  let service: RunningService;
  let relay: Awaited<ReturnType<typeof countingRelay>>;
  let nginx: ChildProcess | undefined;
  let base = '';
  let token = '';
  let accessLogPath = '';
  let nginxStderr = '';

  before(async () => {
    const binary = nginxBinary();
    tmp = await makeTempDir('ugc-nginx-');
    // nginx workers run as an unprivileged user and buffer request bodies under cache/.
    await chmod(tmp.dir, 0o755);
    const dataDir = join(tmp.dir, 'data');
    // The tracker bundle the service serves at /tracker.js, from the current sources (`prepare` builds it at npm install).
    execFileSync(process.execPath, [new URL('../../packages/tracker/build.ts', import.meta.url).pathname], { stdio: 'pipe' });
    service = await startService({ DATA_DIR: dataDir, TRUST_PROXY: 'true', CORS_ORIGINS: CINEMA });
    const appPort = new URL(service.url).port;
    relay = await countingRelay(Number(appPort));
    const { code, stdout, stderr } = await runCli(['token', '--user', 'nginx-test'], { DATA_DIR: dataDir });
    assert.equal(code, 0, stderr);
    token = stdout.trim();

    const port = await closedPort();
    accessLogPath = join(tmp.dir, 'access.log');
    const confDir = join(tmp.dir, 'conf.d');
    await mkdir(confDir);
    // The official image ships /var/cache/nginx; nginx creates only the leaf directories.
    await mkdir(join(tmp.dir, 'cache'));
    let main = await readFile(join(DEPLOY_NGINX, 'nginx.conf'), 'utf8');
    main = substitute(main, 'nginx.conf', '/etc/nginx/conf.d/', `${confDir}/`);
    main = substitute(main, 'nginx.conf', '/var/run/nginx.pid', join(tmp.dir, 'nginx.pid'));
    main = substitute(main, 'nginx.conf', '/var/cache/nginx/', `${tmp.dir}/cache/`, 2);
    // In the container stdout is a pipe Docker reads; a child process's stdio here is a socket,
    // which nginx cannot open() by path, so the access log goes to a file the test reads.
    main = substitute(main, 'nginx.conf', 'access_log /dev/stdout ', `access_log ${accessLogPath} `);
    let site = await readFile(join(DEPLOY_NGINX, 'conf.d', 'ugc.conf'), 'utf8');
    site = substitute(site, 'ugc.conf', 'server api:8000 ', `server 127.0.0.1:${relay.port} `);
    site = substitute(site, 'ugc.conf', 'listen 80 ', `listen 127.0.0.1:${port} `);
    await writeFile(join(tmp.dir, 'nginx.conf'), main);
    await writeFile(join(confDir, 'ugc.conf'), site);

    const args = ['-p', `${tmp.dir}/`, '-c', join(tmp.dir, 'nginx.conf'), '-e', 'stderr'];
    try {
      execFileSync(binary, [...args, '-t', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { stderr?: Buffer };
      assert.fail(`nginx -t rejected the rendered deploy/nginx config:\n${e.stderr?.toString() ?? String(err)}`);
    }
    nginx = spawn(binary, [...args, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    nginx.stderr?.on('data', (chunk: Buffer) => (nginxStderr += chunk.toString()));
    base = `http://127.0.0.1:${port}`;
    await eventually(
      () => fetch(`${base}/nginx-health`).then((r) => r.status, () => 0),
      (status) => status === 200,
      `nginx answering on ${base} (stderr: ${nginxStderr})`,
    );
  });

  after(async () => {
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGQUIT');
      await once(nginx, 'exit');
    }
    await relay?.close();
    await stopAll();
    await tmp?.cleanup();
  });

  const appLogFor = (id: string) => eventually(() => service.logs.filter((e) => hasValue(e, id)), (l) => l.length > 0, `an app log line with ${id}`);
  /** Every access log line so far, parsed; a line that is not JSON fails the test. */
  async function accessLog(): Promise<Record<string, unknown>[]> {
    const text = await readFile(accessLogPath, 'utf8');
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map((line) => {
        try {
          return JSON.parse(line) as Record<string, unknown>;
        } catch {
          throw new Error(`access log line is not JSON: ${line}`);
        }
      });
  }
  const accessLogFor = (id: string) =>
    eventually(async () => (await accessLog()).find((e) => e['http.request.id'] === id), (e) => e !== undefined, `an access log line with ${id}`).then(
      (e) => e ?? {},
    );

  async function postEvents(headers: Record<string, string> = {}) {
    return fetch(`${base}/api/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ type: 'click', element: { kind: 'trailer', id: 'tr-1' } }),
    });
  }

  it('passes the client X-Request-Id to the app, which logs it, and returns it', async () => {
    const id = `nginx-test-${randomUUID()}`;
    const res = await postEvents({ 'x-request-id': id });
    assert.equal(res.status, 202, await res.text());
    assert.equal(res.headers.get('x-request-id'), id);
    await appLogFor(id);
  });

  it('generates a request id when there is none (or an unacceptable one) and the app echoes that one', async () => {
    for (const headers of [{}, { 'x-request-id': 'not valid; has spaces' }] as Record<string, string>[]) {
      const res = await postEvents(headers);
      assert.equal(res.status, 202);
      const id = res.headers.get('x-request-id') ?? '';
      assert.match(id, /^[0-9a-f]{32}$/, 'nginx $request_id');
      await appLogFor(id);
    }
  });

  it('writes a JSON access log line per request with the id, status, sizes and upstream timing', async () => {
    const id = `nginx-log-${randomUUID()}`;
    const res = await fetch(`${base}/healthz?probe=1`, { headers: { 'x-request-id': id, 'user-agent': 'nginx-test "quoted"' } });
    assert.equal(res.status, 200);
    const line = await accessLogFor(id);
    assert.equal(line['http.request.method'], 'GET');
    assert.equal(line['url.path'], '/healthz');
    assert.equal(line['url.original'], '/healthz?probe=1');
    assert.equal(line['http.response.status_code'], 200);
    assert.equal(typeof line['http.response.body.bytes'], 'number');
    assert.equal(typeof line['nginx.request_time'], 'number');
    assert.match(String(line['nginx.upstream.response_time']), /^\d+\.\d{3}$/);
    assert.equal(line['nginx.upstream.status'], '200');
    assert.equal(line['user_agent.original'], 'nginx-test "quoted"', 'escape=json keeps quotes valid');
    assert.ok(!Number.isNaN(Date.parse(String(line['@timestamp']))));
  });

  it('answers 413 problem+json for a body over 1 MiB without reaching the app, and lets 1 MiB through', async () => {
    const id = `nginx-413-${randomUUID()}`;
    const big = await fetch(`${base}/api/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': id },
      body: 'x'.repeat(1024 * 1024 + 1),
    });
    assert.equal(big.status, 413);
    assert.equal(big.headers.get('content-type'), 'application/problem+json');
    assert.equal(big.headers.get('x-request-id'), id);
    assert.equal(((await big.json()) as { status: number }).status, 413);
    const line = await accessLogFor(id);
    assert.equal(line['nginx.upstream.addr'], '', 'nginx answered without asking the app');
    assert.ok(!service.logs.some((e) => hasValue(e, id)), 'the app never saw it');

    const atLimit = await fetch(`${base}/api/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: 'x'.repeat(1024 * 1024),
    });
    assert.equal(atLimit.status, 400, 'exactly 1 MiB reaches the app (which rejects the non-JSON)');
  });

  it('gzips JSON responses for clients that accept it', async () => {
    const res = await fetch(`${base}/openapi.json`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    assert.match(res.headers.get('vary') ?? '', /accept-encoding/i);
    assert.equal(((await res.json()) as { openapi: string }).openapi, '3.1.0');
  });

  it('passes CORS preflights and headers through from the app, each exactly once', async () => {
    const pre = await fetch(`${base}/api/v1/events`, {
      method: 'OPTIONS',
      headers: { origin: CINEMA, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });
    assert.equal(pre.status, 204);
    // fetch joins repeated headers with ", ": a duplicate would show as "a, a".
    assert.equal(pre.headers.get('access-control-allow-origin'), CINEMA);
    assert.equal(pre.headers.get('access-control-max-age'), '600');
    assert.equal(pre.headers.get('access-control-allow-methods'), 'GET, HEAD, POST, PUT, PATCH, DELETE');
    assert.equal(pre.headers.get('access-control-allow-headers'), 'Authorization, Content-Type, Content-Encoding, X-Request-Id');
    assert.match(pre.headers.get('vary') ?? '', /Origin/i);

    const res = await postEvents({ origin: CINEMA });
    assert.equal(res.status, 202);
    assert.equal(res.headers.get('access-control-allow-origin'), CINEMA);
    assert.equal(res.headers.get('access-control-expose-headers'), 'X-Request-Id, Retry-After');
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/, 'one id, the one the page can now read');

    const other = await postEvents({ origin: 'https://evil.example' });
    assert.equal(other.headers.get('access-control-allow-origin'), null);

    // gzip adds Vary: Accept-Encoding beside the app's Vary: Origin; neither replaces the other.
    const zipped = await fetch(`${base}/openapi.json`, { headers: { origin: CINEMA, 'accept-encoding': 'gzip' } });
    assert.equal(zipped.headers.get('content-encoding'), 'gzip');
    assert.equal(zipped.headers.get('access-control-allow-origin'), CINEMA);
    const vary = (zipped.headers.get('vary') ?? '').toLowerCase();
    assert.ok(vary.includes('origin') && vary.includes('accept-encoding'), `vary: ${vary}`);
  });

  it('passes a beacon (text/plain, token in the body) to the app, and serves the tracker gzipped', async () => {
    const res = await fetch(`${base}/api/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8', origin: CINEMA },
      body: JSON.stringify({ access_token: token, events: [{ type: 'page_view' }] }),
    });
    assert.equal(res.status, 202, await res.text());
    const tracker = await fetch(`${base}/tracker.js`, { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(tracker.status, 200);
    assert.equal(tracker.headers.get('content-encoding'), 'gzip');
    assert.match(await tracker.text(), /sendBeacon/);
  });

  it('keeps connections to the app alive instead of opening one per request', async () => {
    const before = relay.connections();
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${base}/healthz`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    const opened = relay.connections() - before;
    assert.ok(opened <= 4, `30 requests opened ${opened} upstream connections`);
  });

  it('does not expose /metrics to the outside', async () => {
    assert.equal((await fetch(`${base}/metrics`)).status, 404);
  });

  it('answers a burst from one address with 429 problem+json and Retry-After', async () => {
    // Waves larger than the burst (200), so the limit trips however slowly a busy machine
    // answers (the bucket refills at 100/s).
    let limited: Response | undefined;
    for (let wave = 0; wave < 4 && !limited; wave++) {
      const responses = await Promise.all(Array.from({ length: 300 }, () => fetch(`${base}/healthz`)));
      for (const r of responses) {
        if (r.status === 429 && !limited) limited = r;
        else await r.arrayBuffer();
      }
    }
    assert.ok(limited, 'no 429 within 1200 requests');
    assert.equal(limited.headers.get('retry-after'), '1');
    assert.equal(limited.headers.get('content-type'), 'application/problem+json');
    assert.match(limited.headers.get('x-request-id') ?? '', /^[0-9a-f]{32}$/);
    const body = (await limited.json()) as { status: number; request_id: string };
    assert.equal(body.status, 429);
    assert.equal(body.request_id, limited.headers.get('x-request-id'));
    const line = await accessLogFor(body.request_id);
    assert.equal(line['http.response.status_code'], 429);
    assert.equal(line['nginx.limit_req_status'], 'REJECTED');
  });

  it('answers 503 problem+json with Retry-After when the app is unreachable', async () => {
    await relay.close();
    const res = await eventually(
      () => fetch(`${base}/healthz`),
      (r) => r.status !== 429,
      'a request past the rate limit',
    );
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    assert.equal(res.headers.get('content-type'), 'application/problem+json');
    assert.equal(((await res.json()) as { status: number }).status, 503);
  });
});
