import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type Line, type Part, expand, parseShell, shBlockAfter } from '../helpers/readme-shell.ts';
import { type RunningService, runCli, startService, stopAll } from '../helpers/service.ts';
import { type TempDir, makeTempDir } from '../helpers/tmp.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
/** Where a GET shown after a `sleep` may still be catching up with the ETL: polled this long. */
const SETTLE_MS = 15_000;

/** A curl command as the walkthrough writes it: `-s`, `-w`, `-X`, `-H`, `-d` and the URL. */
interface Curl {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
  writeOut: string;
}

function curlOf(args: string[]): Curl {
  const curl: Curl = { method: '', url: '', headers: {}, body: undefined, writeOut: '' };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const value = () => args[++i] ?? '';
    if (arg === '-s') continue;
    else if (arg === '-w') curl.writeOut = value();
    else if (arg === '-X') curl.method = value();
    else if (arg === '-d') curl.body = value();
    else if (arg === '-H') {
      const [name = '', ...rest] = value().split(':');
      curl.headers[name.trim().toLowerCase()] = rest.join(':').trim();
    } else if (!arg.startsWith('-')) curl.url = arg;
    else throw new Error(`the walkthrough's curl uses ${arg}, which this test does not know`);
  }
  curl.method ||= curl.body === undefined ? 'GET' : 'POST';
  return curl;
}

/** What curl prints: the body, then `-w` with `\n` and `%{http_code}` replaced. */
async function perform(curl: Curl): Promise<{ status: number; printed: string }> {
  const res = await fetch(curl.url, { method: curl.method, headers: curl.headers, body: curl.body ?? null });
  const body = await res.text();
  return { status: res.status, printed: body + curl.writeOut.replaceAll('\\n', '\n').replaceAll('%{http_code}', String(res.status)) };
}

/** The output a README comment shows, as a pattern: `…` stands for anything the reader need not see. */
function shown(lines: string[]): RegExp {
  const escaped = lines.join('\n').replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replaceAll('…', '[^]*?');
  return new RegExp(`^${escaped}\n$`);
}

interface Step {
  line: Line;
  /** For a curl command: the comment lines after it, its output as shown. */
  output?: string[];
}

/** The walkthrough's lines, each curl command with the output shown under it. */
function steps(): Step[] {
  const lines = parseShell(shBlockAfter(README, '## Walkthrough'));
  const out: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as Line;
    const step: Step = { line };
    out.push(step);
    if (!('words' in line) || line.words[0]?.[0] === undefined || !('text' in line.words[0][0]) || line.words[0][0].text !== 'curl') continue;
    const output: string[] = [];
    while (i + 1 < lines.length && 'comment' in (lines[i + 1] as Line)) {
      const comment = (lines[++i] as { comment: string }).comment;
      output.push(comment);
      if (/^HTTP \d{3}$/.test(comment)) break;
    }
    assert.match(output.at(-1) ?? '', /^HTTP \d{3}$/, `the README shows the status of every curl command (after line "${output.join(' / ')}")`);
    step.output = output;
  }
  return out;
}

/**
 * The README's walkthrough, run as written against the real service (`serve` on a fresh data
 * directory, its own generated secret, `npm run token` through the CLI, `$UGC` set to its
 * address as a reader on another port would set it): every command's status
 * code and output are what the README shows under it. Then a second run, which the README says
 * answers 200 to the like and the bookmark and 409 to the review.
 */
describe("the README's walkthrough", () => {
  let tmp: TempDir;
  let svc: RunningService;
  before(async () => {
    tmp = await makeTempDir('ugc-walkthrough-');
    svc = await startService({ DATA_DIR: tmp.dir });
  });
  after(async () => {
    await stopAll();
    await tmp?.cleanup();
  });

  /** `npm run -s token -- ARGS`, the one command the walkthrough substitutes, through the real CLI. */
  async function substitute(command: string): Promise<string> {
    const m = /^npm run -s token -- (.+)$/.exec(command.trim());
    assert.ok(m?.[1], `the walkthrough substitutes only \`npm run -s token -- …\`, not \`${command}\``);
    const res = await runCli(['token', ...m[1].split(/\s+/)], { DATA_DIR: tmp.dir });
    assert.equal(res.code, 0, res.stderr);
    return res.stdout;
  }

  /** Runs every step; returns each curl's method, URL and status. */
  async function run(check: boolean): Promise<{ method: string; url: string; status: number }[]> {
    const vars = new Map<string, string>();
    const answers: { method: string; url: string; status: number }[] = [];
    let settling = false;
    for (const { line, output } of steps()) {
      if (!('words' in line)) continue;
      const words = await Promise.all(line.words.map((w: Part[]) => expand(w, vars, substitute)));
      const [name = '', ...args] = words;
      const assignment = /^([A-Za-z_]\w*)=([^]*)$/.exec(name);
      if (assignment?.[1] === 'UGC' && args.length === 0) {
        // The one line a reader on another port edits; here it points at the test's service.
        assert.equal(assignment[2], 'http://localhost:8000', "the walkthrough's default is `npm start`'s address");
        vars.set('UGC', svc.url);
      } else if (assignment && args.length === 0) vars.set(assignment[1] ?? '', assignment[2] ?? '');
      else if (name === 'sleep') {
        await new Promise((resolve) => setTimeout(resolve, Number(args[0]) * 1000));
        settling = true;
      } else if (name === 'curl') {
        const curl = curlOf(args);
        assert.ok(curl.url.startsWith(`${svc.url}/`), `every curl goes to $UGC: ${curl.url}`);
        const expected = shown(output ?? []);
        const deadline = Date.now() + (settling && curl.method === 'GET' ? SETTLE_MS : 0);
        let answer = await perform(curl);
        while (check && !expected.test(answer.printed) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          answer = await perform(curl);
        }
        if (check) assert.match(answer.printed, expected, `${curl.method} ${curl.url}`);
        answers.push({ method: curl.method, url: curl.url.slice(svc.url.length), status: answer.status });
      } else assert.fail(`the walkthrough runs \`${name}\`, which this test does not know`);
    }
    return answers;
  }

  it('answers every command with the status and output the README shows', async () => {
    const answers = await run(true);
    assert.ok(answers.length >= 15, `${answers.length} curl commands`);
  });

  it('answers a second run as the README says: the like replaced, the bookmark found, the review a 409', async () => {
    const second = await run(false);
    const status = (method: string, path: RegExp) => second.find((a) => a.method === method && path.test(a.url))?.status;
    assert.equal(status('PUT', /\/like$/), 200);
    assert.equal(status('POST', /^\/api\/v1\/bookmarks$/), 200);
    assert.equal(status('POST', /\/reviews$/), 409);
    assert.match(README, /a second run answers `200` to the like and the bookmark[^]*and `409` to the review/);
  });
});
