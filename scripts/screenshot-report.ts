// Full-page screenshot of a report.html in headless Chromium, for people to look at:
//   node --import tsx scripts/screenshot-report.ts runs/<run>/report.html [out.png] [--width 1100]
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromiumMissing, withPage } from './chromium.ts';

const args = process.argv.slice(2);
const widthAt = args.indexOf('--width');
const width = widthAt >= 0 ? Number(args.splice(widthAt, 2)[1]) : 1100;
const [html, out = `${html.replace(/\.html?$/, '')}.png`] = args;
if (!html || !Number.isFinite(width)) {
  console.error('usage: node --import tsx scripts/screenshot-report.ts REPORT.html [OUT.png] [--width PX]');
  process.exit(2);
}
const missing = chromiumMissing();
if (missing) {
  console.error(missing);
  process.exit(1);
}
await withPage(
  pathToFileURL(resolve(html)).href,
  async (page, problems) => {
    await page.screenshot({ path: out, fullPage: true });
    const issues = [...problems.console, ...problems.pageErrors, ...problems.failedRequests];
    if (issues.length) console.error(`page problems:\n  ${issues.join('\n  ')}`);
  },
  { width, height: 900 },
);
console.log(`wrote ${out}`);
