import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium, headless, driven by playwright-core (no downloaded browser). Every browser
 * suite (`npm run test:browser`) launches through here. Without Chromium it fails loudly — the
 * browser suites never skip: `bash scripts/ci/browser-tools.sh` installs it (.ci/run does).
 * Playwright gives each launch a fresh temporary user-data-dir, removed on close: no profile,
 * cache or localStorage survives from one launch to the next.
 */
export const CHROMIUM_PATH = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium(options: { args?: string[] } = {}): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: run \`bash scripts/ci/browser-tools.sh\` (Debian's chromium and ffmpeg). The browser tests never skip.`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS, ...(options.args ?? [])], timeout: 60_000 });
}

/**
 * Chromium as its own process on a profile directory the caller keeps, reached over CDP: the
 * test owns the process, so it can SIGKILL it mid-session (a crash, a killed app) and start
 * another on the same profile, as a user reopening the browser would.
 */
export async function spawnChromium(userDataDir: string): Promise<{ browser: Browser; kill: () => Promise<void> }> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium is not installed at ${CHROMIUM_PATH}: run \`bash scripts/ci/browser-tools.sh\`.`);
  const child = spawn(CHROMIUM_PATH, [...CHROMIUM_ARGS, `--user-data-dir=${userDataDir}`, '--remote-debugging-port=0', 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  const exited = once(child, 'exit');
  const endpoint = await new Promise<string>((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`Chromium did not start: ${stderr}`)), 60_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then(() => reject(new Error(`Chromium exited: ${stderr}`)));
  });
  const browser = await chromium.connectOverCDP(endpoint);
  return {
    browser,
    kill: async () => {
      // The whole process group: the browser and its renderers, with no chance to run pagehide.
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
    },
  };
}
