/**
 * Debian's Chromium driven by playwright-core for the dashboard's browser tests: never a downloaded
 * browser. Each launch gets a fresh profile in a temp directory, no background networking, and
 * records every request the page makes, every console error and every page error, so a test can
 * assert the page stays on its own origin and runs clean.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Screenshots land here (gitignored), for a person to look at after a run. */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));

export function chromiumPath(): string {
  const fromEnv = process.env['TICKRING_CHROMIUM'];
  if (fromEnv) return fromEnv;
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed: apt-get install -y chromium (.ci/run does this)');
  }
}

export interface Browser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every URL the page asked for. */
  readonly requests: string[];
  /** Console errors (CSP violations among them) and uncaught page errors. */
  readonly errors: string[];
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(viewport = { width: 1366, height: 900 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'tickring-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    viewport,
    reducedMotion: 'no-preference',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const requests: string[] = [];
  const errors: string[] = [];
  context.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page: ${error.message}`));
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    context,
    page,
    requests,
    errors,
    async screenshot(name) {
      const path = join(ARTIFACTS, name);
      await page.screenshot({ path, fullPage: true, timeout: 20_000 });
      return path;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
