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
