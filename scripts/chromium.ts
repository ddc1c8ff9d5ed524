// Debian's Chromium, headless, driven over the DevTools protocol by playwright-core: used by the
// report test and by screenshot-report.ts. Installs the package when missing and running as root.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** No sandbox (root), no GPU, and no background connections (this machine's network is closed). */
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

/** Null when Chromium is there (installing it with apt-get if needed), else why it is not. */
export function ensureChromium(log: (line: string) => void = () => {}): string | null {
  if (existsSync(CHROMIUM)) return null;
  if (process.getuid?.() !== 0) return `${CHROMIUM} missing and not root, so it cannot be installed (run: apt-get install -y chromium)`;
  log('installing Debian chromium (apt-get)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', 'chromium']]) {
    const r = spawnSync('apt-get', args, { env, encoding: 'utf8', timeout: 15 * 60_000 });
    if (r.status !== 0) return `apt-get ${args.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout || '').slice(-500)}`;
  }
  return existsSync(CHROMIUM) ? null : `apt-get installed chromium but ${CHROMIUM} is still missing`;
}

export interface PageProblems {
  console: string[];
  pageErrors: string[];
  failedRequests: string[];
}

/** Opens a URL in a fresh headless Chromium profile, runs `fn` on the loaded page, and closes everything. */
export async function withPage<T>(url: string, fn: (page: Page, problems: PageProblems) => Promise<T>, viewport = { width: 1100, height: 900 }): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true, viewport });
  try {
    const page = await context.newPage();
    const problems: PageProblems = { console: [], pageErrors: [], failedRequests: [] };
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.console.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.pageErrors.push(String(e)));
    page.on('requestfailed', (r) => problems.failedRequests.push(`${r.url().slice(0, 120)}: ${r.failure()?.errorText}`));
    await page.goto(url, { waitUntil: 'load' });
    return await fn(page, problems);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
