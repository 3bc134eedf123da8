// Opens an HTML report in headless Chromium (Debian's, driven by playwright-core) and writes what it saw:
//   node report_browser.mjs REPORT.html OUT.json SCREENSHOT.png GALLERY.png
// What the browser decoded (every thumbnail loaded, at its size), where the sections sit, console errors, a
// full-page screenshot and one of the gallery alone.
import { writeFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const [reportPath, outPath, screenshotPath, galleryPath] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'peers', 'package.json'));
const { chromium } = require('playwright-core');

// launch() gives Chromium a fresh temporary profile (--user-data-dir) and removes it afterwards.
const browser = await chromium.launch({
  executablePath: process.env.XFER_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const result = { console: [], requests: [] };
try {
  // The report has no script; JavaScript stays off so that what is seen is the page itself.
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, javaScriptEnabled: false });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') result.console.push(m.text()); });
  page.on('request', (r) => { if (!r.url().startsWith('data:')) result.requests.push(r.url()); });
  await page.goto(pathToFileURL(resolve(reportPath)).href, { waitUntil: 'load' });
  const images = page.locator('figure.mistake img');
  result.thumbnails = await images.evaluateAll((all) => all.map((img) => ({
    alt: img.alt, complete: img.complete, natural: [img.naturalWidth, img.naturalHeight],
    attr: [Number(img.getAttribute('width')), Number(img.getAttribute('height'))],
    shown: [img.clientWidth, img.clientHeight],  // the content box, without the 1 px border
  })));
  const box = async (selector) => {
    const b = await page.locator(selector).first().boundingBox();
    return b ? [b.x, b.y, b.width, b.height] : null;
  };
  result.cv_curve = await box('svg.cv-curve');
  result.gallery = await box('div.mistakes');
  result.captions = await page.locator('figure.mistake figcaption').allTextContents();
  result.headings = await page.locator('div.mistakes h3').allTextContents();
  await page.screenshot({ path: screenshotPath, fullPage: true });
  // The gallery alone: from its heading to the end of the last group.
  const top = await page.locator('h2', { hasText: 'Mistakes' }).boundingBox();
  const groups = await page.locator('div.mistakes').evaluateAll((all) => {
    const r = all[all.length - 1].getBoundingClientRect();
    return r.bottom + window.scrollY;
  });
  await page.screenshot({ path: galleryPath, fullPage: true,
                          clip: { x: 0, y: top.y, width: 1200, height: Math.max(1, groups - top.y) } });
} finally {
  await browser.close();
}
writeFileSync(outPath, JSON.stringify(result));
