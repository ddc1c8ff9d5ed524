// Debian's Chromium, headless, driven over the DevTools protocol by playwright-core: used by the
// report test and by screenshot-report.ts. Installs nothing: `npm run setup:system` does.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** No sandbox (root), no GPU, and no background connections (this machine's network is closed). */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Null when Chromium is there, else why not and how to install it. */
export function chromiumMissing(): string | null {
  return existsSync(CHROMIUM)
    ? null
    : `${CHROMIUM} not found (install it: npm run setup:system, or apt-get install chromium)`;
}

export interface PageProblems {
  console: string[];
  pageErrors: string[];
  failedRequests: string[];
}

/** Opens a URL in a fresh headless Chromium profile, runs `fn` on the loaded page, and closes everything. */
export async function withPage<T>(
  url: string,
  fn: (page: Page, problems: PageProblems) => Promise<T>,
  viewport = { width: 1100, height: 900 },
): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_FLAGS,
    headless: true,
    viewport,
    timeout: 0, // no start-up deadline: a loaded machine is slow, not broken
  });
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(0);
    const problems: PageProblems = { console: [], pageErrors: [], failedRequests: [] };
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.console.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.pageErrors.push(String(e)));
    page.on('requestfailed', (r) =>
      problems.failedRequests.push(`${r.url().slice(0, 120)}: ${r.failure()?.errorText}`),
    );
    await page.goto(url, { waitUntil: 'load' });
    return await fn(page, problems);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
