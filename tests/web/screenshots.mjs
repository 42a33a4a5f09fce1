// The README's screenshots: `node tests/web/screenshots.mjs` (after `cargo build --release`)
// runs our supervisord on examples/supervisord.conf (port 9002, user/123), and saves the main
// page and a log view, light and dark, as docs/web-{main,log}-{light,dark}.png.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { open } from './browser.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const url = 'http://127.0.0.1:9002/';
const credentials = { username: 'user', password: '123' };
const daemon = spawn(join(root, 'target/x86_64-unknown-linux-gnu/release/supervisord'),
  ['-n', '-c', join(root, 'examples/supervisord.conf')], { cwd: join(root, 'examples'), stdio: 'inherit' });
const auth = { Authorization: `Basic ${Buffer.from('user:123').toString('base64')}` };

async function until(what, check, timeout = 20000) {
  const deadline = Date.now() + timeout;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

try {
  await until('the daemon', async () => (await fetch(url, { headers: auth })).ok);
  // A stopped program beside the running ones, so the states differ.
  await fetch(`${url}web/api/stop/clock`, { method: 'POST', headers: { ...auth, 'X-Supervisor-Web': '1' } });
  for (const colorScheme of ['light', 'dark']) {
    const { context, close } = await open({
      viewport: { width: 1100, height: 560 }, colorScheme, httpCredentials: credentials,
    });
    const page = context.pages()[0] || await context.newPage();
    await page.goto(url);
    await page.locator('#connection.live').waitFor();
    await until('the workers running', async () => (await page.locator('tr.proc .state:text("running")').count()) >= 3);
    await page.screenshot({ path: join(root, `docs/web-main-${colorScheme}.png`) });
    await page.locator('tr.proc[data-namespec="qrd:qrdworker"] button.tail').click();
    await until('a few log lines', async () => (await page.locator('#log-text').textContent()).split('\n').length > 4);
    await page.screenshot({ path: join(root, `docs/web-log-${colorScheme}.png`) });
    await close();
  }
  console.log('saved docs/web-{main,log}-{light,dark}.png');
} finally {
  daemon.kill('SIGTERM');
}
