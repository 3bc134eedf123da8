// Watches a job's status page in headless Chromium (Debian's, driven by playwright-core) and writes what it saw:
//   node status_page_browser.mjs OUT.json SCREENSHOT.png   (the page's address arrives on stdin, one line)
// The browser starts before the job so that it sees the job from its first seconds. It samples the page as the
// script redraws it, opens it once more with JavaScript off, and takes a screenshot when the job is done.
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const [outPath, screenshotPath] = process.argv.slice(2);
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(here, '..', '..', 'peers', 'package.json'));
const { chromium } = require('playwright-core');

// launch() gives Chromium a fresh temporary profile (--user-data-dir) of its own and removes it afterwards.
const browser = await chromium.launch({
  executablePath: process.env.XFER_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
});
const result = { samples: [], console: [], nojs: null, final: null, requests_failed: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') result.console.push(m.text()); });
  page.on('pageerror', (e) => result.console.push('pageerror: ' + e.message));
  console.log('browser ready');

  const lines = createInterface({ input: process.stdin });
  const url = (await lines[Symbol.asyncIterator]().next()).value.trim();
  lines.close();
  process.stdin.destroy();  // an open stdin would keep node running after the work is done
  await page.goto(url + '?refresh=150');

  const read = () => page.evaluate(() => {
    const t = (id) => { const e = document.getElementById(id); return e ? e.textContent.trim() : null; };
    const rank0 = document.querySelector('#ranks tr[data-rank="0"]');
    return {
      phase: t('phase'), done: t('totals-done'), total: t('totals-total'), rate: t('totals-rate'), eta: t('totals-eta'),
      rank0_items: rank0 ? rank0.querySelector('td.items').textContent.trim() : null,
      rank0_state: rank0 ? rank0.children[2].textContent.trim() : null,
      ranks: [...document.querySelectorAll('#ranks tr[data-rank]')].map((tr) => [...tr.children].map((td) => td.textContent)),
      skipped: t('skipped-count'),
    };
  });
  const deadline = Date.now() + 180000;
  let sample;
  let nojsDone = null;  // the JavaScript-off fetch, once started
  for (;;) {
    sample = await read();
    sample.t = Date.now();
    result.samples.push(sample);
    if (sample.phase === 'done' || sample.phase === 'failed' || Date.now() > deadline) break;
    // Once the job is under way, the same page with JavaScript off: the server's own rendering. Fetched beside the
    // sampling, not in its way: a new browser context can take seconds on a loaded machine, and a short job would
    // then end unwatched (the 2-rank case once saw a single sample).
    if (!nojsDone && sample.phase === 'featurizing' && Number(sample.done) > 0) {
      nojsDone = (async () => {
        const plain = await browser.newContext({ javaScriptEnabled: false });
        const p2 = await plain.newPage();
        await p2.goto(url);
        result.nojs = await p2.evaluate(() => ({
          phase: document.getElementById('phase').textContent,
          done: document.getElementById('totals-done')?.textContent,
          total: document.getElementById('totals-total')?.textContent,
          rank0_items: document.querySelector('#ranks tr[data-rank="0"] td.items')?.textContent,
          refresh: document.querySelector('noscript')?.innerHTML ?? '',
        }));
        await plain.close();
      })().catch((e) => { result.nojs_error = String(e); });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  if (nojsDone) await nojsDone;
  // The final state: what the script drew from the last /api/status.
  result.final = await page.evaluate(() => {
    const values = {};
    for (const td of document.querySelectorAll('#result td.value')) values[td.dataset.key] = td.textContent;
    return {
      phase: document.getElementById('phase').textContent,
      done: document.getElementById('totals-done')?.textContent,
      total: document.getElementById('totals-total')?.textContent,
      skipped_count: document.getElementById('skipped-count').textContent,
      skipped_text: document.getElementById('skipped').textContent,
      skipped_injected_elements: document.querySelectorAll('#skipped b').length,
      result: values,
      rank0: [...(document.querySelector('#ranks tr[data-rank="0"]')?.children ?? [])].map((td) => td.textContent),
      ranks: [...document.querySelectorAll('#ranks tr[data-rank]')].map((tr) => [...tr.children].map((td) => td.textContent)),
      stages: [...document.querySelectorAll('#stages tr')].slice(1).map((tr) => [...tr.children].map((td) => td.textContent)),
      phases: [...document.querySelectorAll('#phases tr')].slice(1).map((tr) => tr.children[0].textContent),
      job: document.getElementById('job').textContent,
    };
  });
  await page.screenshot({ path: screenshotPath, fullPage: true });
} finally {
  await browser.close();
  writeFileSync(outPath, JSON.stringify(result, null, 1));
}
