// The web scenario of benches/bench.py: `node bench.mjs <url> <daemon pid> <processes>`, against a
// daemon running that many `sleep` programs (group `sleep`, processes sleep_0000, ...). Prints
// one JSON object: the time until the table is rendered, the latency from an action to the page
// showing its state change, and the daemon's CPU for the same changes with 0, 1 and 10 pages open.
import { readFileSync } from 'node:fs';
import { launch } from './browser.mjs';

const [url, pid, count] = process.argv.slice(2);
const n = Number(count);
const CHANGES = 200;     // restarts (4 state changes each) per CPU window
const TICK_MS = 10;      // /proc/<pid>/stat counts in 1/100 s

const cpuMs = () => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p99 = (xs) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(0.99 * xs.length) - 1)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ns = (i) => `sleep:sleep_${String(i).padStart(4, '0')}`;

async function until(what, check, timeout = 30000) {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

// Opens a page in a context of its own and waits for its live table: the ms from navigation to
// every row in the table the script built from the stream (the server's table comes before it).
async function load() {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const started = Date.now();
  await page.goto(url);
  await page.locator('#processes[data-live]').waitFor({ state: 'attached' });
  await until('the table', () => page.evaluate((want) => document.querySelectorAll('tr.proc').length === want, n));
  return { page, ms: Date.now() - started };
}

const act = (verb, name) => fetch(`${url}web/api/${verb}/${encodeURIComponent(name)}`, {
  method: 'POST', headers: { 'X-Supervisor-Web': '1' },
});

const browser = await launch();
try {
  const renders = [];
  for (let i = 0; i < 3; i++) {
    const { page, ms } = await load();
    renders.push(ms);
    await page.context().close();
  }
  const { page } = await load();

  // Action → row changed, measured in the page (an observer timestamps the change).
  const latencies = await page.evaluate(async (names) => {
    const out = [];
    const change = (name, want) => new Promise((resolve) => {
      const span = document.querySelector(`tr.proc[data-namespec="${name}"] .state`);
      const seen = new MutationObserver(() => {
        if (want.includes(span.textContent)) { seen.disconnect(); resolve(performance.now()); }
      });
      seen.observe(span, { childList: true, characterData: true, subtree: true });
    });
    const post = (verb, name) => fetch(`/web/api/${verb}/${encodeURIComponent(name)}`, {
      method: 'POST', headers: { 'X-Supervisor-Web': '1' },
    });
    for (const name of names) {
      for (const [verb, want] of [['stop', ['stopping', 'stopped']], ['start', ['starting', 'running']]]) {
        const shown = change(name, want);
        const t0 = performance.now();
        const done = post(verb, name);
        out.push((await shown) - t0);
        await done;
      }
    }
    return out;
  }, Array.from({ length: 20 }, (_, i) => ns(i)));
  await page.context().close();

  // The same changes with 0, 1 and 10 pages open: the daemon's CPU for each.
  const cpu = {};
  for (const pages of [0, 1, 10]) {
    const open = [];
    for (let i = 0; i < pages; i++) open.push((await load()).page);
    await sleep(500);
    const before = cpuMs();
    for (let i = 0; i < CHANGES; i++) await act('restart', ns(100 + i));
    cpu[pages] = cpuMs() - before;
    for (const p of open) await p.context().close();
  }
  const stream = (k) => Math.max(cpu[k] - cpu[0], TICK_MS);
  console.log(JSON.stringify({
    render_ms: median(renders),
    latency_p50_ms: median(latencies),
    latency_p99_ms: p99(latencies),
    cpu0_ms: cpu[0],
    cpu1_ms: cpu[1],
    cpu10_ms: cpu[10],
    stream_ratio: stream(10) / stream(1),
  }));
} finally {
  await browser.close();
}
