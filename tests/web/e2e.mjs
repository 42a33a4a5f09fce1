// End-to-end tests of the web UI in a real browser: `node e2e.mjs <daemon url>`. Run by
// tests/web.rs against a daemon on the example config plus an HTML-looking log line and spawn
// error. Exits 0 only when every scenario passed; each step is bounded by playwright's timeouts.
import assert from 'node:assert/strict';
import { launch, open } from './browser.mjs';

const [url, username, password] = process.argv.slice(2);
if (!url) {
  console.error('usage: node e2e.mjs <url> [username password]');
  process.exit(2);
}
const TIMEOUT = 15000;

const credentials = username ? { httpCredentials: { username, password } } : {};
const { context, close } = await open({ viewport: { width: 1200, height: 900 }, ...credentials });
context.setDefaultTimeout(TIMEOUT);
const page = context.pages()[0] || await context.newPage();
const problems = [];
page.on('dialog', (d) => { problems.push(`a script opened a ${d.type()} dialog: ${d.message()}`); d.dismiss(); });
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });

const row = (ns) => page.locator(`tr.proc[data-namespec="${ns}"]`);
const state = (ns) => row(ns).locator('.state');
// Polls `fn(arg)` in the page until it is truthy. (Playwright's waitForFunction would eval a
// string, which the page's CSP rightly refuses.)
async function until(fn, arg, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await page.evaluate(fn, arg)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${fn}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
async function step(name, body) {
  const started = Date.now();
  await body();
  console.log(`ok - ${name} (${Date.now() - started} ms)`);
}

try {
  await step('the page shows the example config\'s programs, live', async () => {
    await page.goto(url);
    for (const ns of ['qrd:qrdweb', 'qrd:qrdworker', 'qrd:qrdbeat', 'clock', 'html', 'broken']) {
      await row(ns).waitFor();
    }
    await page.locator('#connection.live').waitFor();
    await page.locator('text=running').first().waitFor();
    await page.evaluate(() => { window.notReloaded = true; });
  });

  await step('process text that looks like HTML is shown as text', async () => {
    await until(() => document.querySelector('tr.proc[data-namespec="broken"] .state')?.textContent === 'fatal');
    const desc = await row('broken').locator('.desc').textContent();
    assert.match(desc, /<b>bold<\/b>&amp;/);
    assert.equal(await page.locator('b:text("bold")').count(), 0, 'a <b> element was made from process text');
  });

  await step('stopping a process shows its new state without a reload', async () => {
    await row('qrd:qrdbeat').getByRole('button', { name: 'Stop qrd:qrdbeat' }).click();
    await until(() => document.querySelector('tr.proc[data-namespec="qrd:qrdbeat"] .state').textContent === 'stopped');
    await page.locator('#message', { hasText: 'Process qrd:qrdbeat stopped' }).waitFor();
    assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page reloaded');
  });

  await step('starting it again', async () => {
    await row('qrd:qrdbeat').getByRole('button', { name: 'Start qrd:qrdbeat' }).click();
    await until(() => document.querySelector('tr.proc[data-namespec="qrd:qrdbeat"] .state').textContent === 'running');
    assert.equal(await page.evaluate(() => window.notReloaded), true, 'the page reloaded');
  });

  await step('uptimes tick in the page', async () => {
    const desc = row('clock').locator('.desc');
    const first = await desc.textContent();
    assert.match(first, /^pid \d+, uptime \d+:\d\d:\d\d$/);
    await until((before) => document.querySelector('tr.proc[data-namespec="clock"] .desc').textContent !== before, first);
  });

  await step('counts by state, filter and folding', async () => {
    const counts = await page.locator('#counts').textContent();
    assert.match(counts, /running\d+/);
    assert.match(counts, /fatal1/);
    await page.fill('#filter', 'qrd');
    await until(() => document.querySelectorAll('tr.proc:not([hidden])').length === 3);
    assert.equal(await row('clock').isVisible(), false);
    await page.fill('#filter', '');
    await page.getByRole('button', { name: 'qrd', exact: true }).click();
    await row('qrd:qrdweb').waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'qrd', exact: true }).click();
    await row('qrd:qrdweb').waitFor({ state: 'visible' });
  });

  await step('a health check\'s verdict shows in its row, and the filter finds it', async () => {
    await until(() => document.querySelector('tr.proc[data-namespec="html"] .tag.h-healthy')?.textContent === 'healthy');
    await page.fill('#filter', 'healthy');
    await until(() => [...document.querySelectorAll('tr.proc:not([hidden])')].map((tr) => tr.dataset.namespec).join() === 'html');
    await page.fill('#filter', '');
    await until(() => document.querySelectorAll('tr.proc[hidden]').length === 0);
  });

  await step('a live log view shows new lines, as text, and pauses', async () => {
    await row('html').getByRole('button', { name: 'Tail html' }).click();
    const text = page.locator('#log-text');
    await until(() => document.getElementById('log-text').textContent.includes('<img src=x onerror=alert(1)>'));
    assert.equal(await page.locator('#log-text img').count(), 0, 'an <img> was made from a log line');
    const lines = (await text.textContent()).split('\n').length;
    await until((n) => document.getElementById('log-text').textContent.split('\n').length > n, lines);
    assert.equal(await page.locator('#log-download').getAttribute('href'), '/web/download/html/stdout');
    await page.click('#log-pause');
    const paused = await text.textContent();
    await page.waitForTimeout(800);
    assert.equal(await text.textContent(), paused, 'text arrived while paused');
    await page.click('#log-pause');
    await until((n) => document.getElementById('log-text').textContent.length > n, paused.length);
    await page.keyboard.press('Escape');
    await page.locator('#log').waitFor({ state: 'hidden' });
  });

  await step('the main log', async () => {
    await page.click('#mainlog');
    await until(() => document.getElementById('log-text').textContent.includes(' INFO '));
    assert.equal(await page.locator('#log-title').textContent(), 'Main log');
    await page.click('#log-close');
  });

  await step('a GET to an action URL does nothing', async () => {
    await page.goto(`${url}index.html?processname=clock&action=stop`);
    await row('clock').waitFor();
    await page.locator('#connection.live').waitFor();
    const get = await page.evaluate(async () => (await fetch('/web/api/stop/clock')).status);
    assert.equal(get, 405);
    // The browser reports that refusal on the console: it was asked for.
    const refusal = problems.findIndex((p) => p.includes('status of 405'));
    if (refusal >= 0) problems.splice(refusal, 1);
    await page.waitForTimeout(500);
    assert.equal(await state('clock').textContent(), 'running');
  });

  await step('Python\'s tail link opens the log view', async () => {
    await page.goto(`${url}tail.html?processname=html`);
    await until(() => document.getElementById('log-text').textContent.includes('<img src=x'));
    assert.equal(await page.locator('#log-title').textContent(), 'html');
  });

  await step('without script, the server\'s table and forms work', async () => {
    const browser = await launch();
    try {
      const noScript = await browser.newContext({ javaScriptEnabled: false, ...credentials });
      noScript.setDefaultTimeout(TIMEOUT);
      const plain = await noScript.newPage();
      const plainRow = (ns) => plain.locator(`tr.proc[data-namespec="${ns}"]`);
      await plain.goto(url);
      assert.equal(await plainRow('qrd:qrdworker').locator('.state').textContent(), 'running');
      assert.equal(await plainRow('broken').locator('.state').textContent(), 'fatal');
      assert.match(await plainRow('broken').locator('.desc').textContent(), /<b>bold<\/b>&amp;/);
      assert.equal(await plain.locator('b:text("bold")').count(), 0, 'a <b> element was made from process text');
      assert.equal(await plain.locator('#connection').isVisible(), false, 'a control that needs script is shown');
      await Promise.all([
        plain.waitForURL((u) => u.searchParams.has('message')),
        plainRow('qrd:qrdworker').getByRole('button', { name: 'Stop qrd:qrdworker' }).click(),
      ]);
      assert.equal(new URL(plain.url()).pathname, '/');
      await plain.locator('#message', { hasText: 'Process qrd:qrdworker stopped' }).waitFor();
      assert.equal(await plainRow('qrd:qrdworker').locator('.state').textContent(), 'stopped');
      assert.equal(await plainRow('qrd:qrdworker').getByRole('button', { name: 'Start qrd:qrdworker' }).count(), 1);
      // The page with script saw it too.
      await until(() => document.querySelector('tr.proc[data-namespec="qrd:qrdworker"] .state').textContent === 'stopped');
      await plainRow('html').getByRole('link', { name: 'Tail html' }).click();
      await plain.locator('#static-tail-text', { hasText: '<img src=x onerror=alert(1)>' }).waitFor();
      assert.equal(await plain.locator('#static-tail-text img').count(), 0, 'an <img> was made from a log line');
      assert.equal(await plain.title(), 'Supervisor tail of process html');
      await noScript.close();
    } finally {
      await browser.close();
    }
  });

  await step('with script, the static tail gives way to the log view', async () => {
    await page.goto(`${url}tail.html?processname=html`);
    await page.locator('#log[open]').waitFor();
    assert.equal(await page.locator('#static-tail').count(), 0);
    await page.click('#log-close');
  });

  await step('stop all asks first, then stops everything', async () => {
    await page.goto(url);
    await page.locator('#connection.live').waitFor();
    await page.click('#stopall');
    await page.locator('#confirm').waitFor();
    await page.click('#confirm-cancel');
    await page.waitForTimeout(300);
    assert.equal(await state('clock').textContent(), 'running', 'cancel stopped something');
    await page.click('#stopall');
    await page.click('#confirm-ok');
    await until(() => [...document.querySelectorAll('tr.proc .state')]
      .every((s) => !['running', 'starting', 'stopping'].includes(s.textContent)), null, 30000);
    await page.locator('#message:text("All stopped")').waitFor();
  });

  assert.deepEqual(problems, []);
  console.log('all web scenarios passed');
} catch (e) {
  console.error(e);
  if (problems.length) console.error(problems.join('\n'));
  await close();
  process.exit(1);
}
await close();
