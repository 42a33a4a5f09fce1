// supervisord's web UI. Live state from one server-sent-event stream (/web/events); actions are
// POSTs to /web/api/ with the X-Supervisor-Web header the server requires. Text from processes
// (names, descriptions, log lines) only ever goes in through textContent or text nodes.
// The server renders the page for readers without script (the table with forms, tail.html's
// log); this script shows the controls that need it and rebuilds the table from the stream.
'use strict';

const RUNNING_LIKE = new Set(['STARTING', 'RUNNING', 'BACKOFF', 'STOPPING']);
const STATE_ORDER = ['RUNNING', 'STARTING', 'BACKOFF', 'STOPPING', 'EXITED', 'FATAL', 'STOPPED', 'UNKNOWN'];
// The log view keeps at most this many characters, trimmed to half when it gets there.
const LOG_LIMIT = 512 * 1024;

const $ = (id) => document.getElementById(id);
const procs = new Map();   // namespec -> row data from the server
const rows = new Map();    // namespec -> {tr, cells}
const folded = new Set(JSON.parse(localStorage.getItem('folded') || '[]'));
let dirty = new Set();
let rebuild = false;

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

// Python's str(datetime.timedelta) of whole seconds.
function timedelta(secs) {
  secs = Math.max(0, Math.floor(secs));
  const days = Math.floor(secs / 86400);
  const rest = secs % 86400;
  const pad = (n) => String(n).padStart(2, '0');
  const hms = `${Math.floor(rest / 3600)}:${pad(Math.floor((rest % 3600) / 60))}:${pad(rest % 60)}`;
  return days === 0 ? hms : `${days} day${days === 1 ? '' : 's'}, ${hms}`;
}

function describe(p) {
  if (p.state !== 'RUNNING') return p.description;
  const now = Date.now() / 1000 + p.skew;
  return `pid ${p.pid}, uptime ${timedelta(now - p.start)}`;
}

function accept(p) {
  p.skew = p.now - Date.now() / 1000;
  procs.set(p.namespec, p);
}

// ---- the live stream ----

// A hidden tab gives its stream back: a browser allows only 6 connections per server, and each
// open stream holds one. Shown again, it reconnects and starts from a fresh snapshot.
let source = null;
document.addEventListener('visibilitychange', () => {
  if (document.hidden && source) {
    source.close();
    source = null;
  } else if (!document.hidden && !source) {
    connect();
  }
});

function connect() {
  source = new EventSource('/web/events');
  const conn = $('connection');
  source.onopen = () => { conn.textContent = 'live'; conn.className = 'conn live'; };
  source.onerror = () => { conn.textContent = 'reconnecting…'; conn.className = 'conn down'; };
  source.addEventListener('snapshot', (e) => {
    const snap = JSON.parse(e.data);
    $('identifier').textContent = snap.identifier;
    $('version').textContent = snap.version;
    document.title = `Supervisor Status (${snap.identifier})`;
    procs.clear();
    for (const p of snap.processes) accept(p);
    rebuild = true;
    schedule();
    openRequestedTail();
  });
  source.addEventListener('process', (e) => {
    const p = JSON.parse(e.data);
    if (!procs.has(p.namespec)) return;
    accept(p);
    dirty.add(p.namespec);
    schedule();
  });
}

let scheduled = false;
function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    // A change touches its own row: the filter is applied to the whole table only when the
    // table is rebuilt (or the filter edited), so one change costs one row, not a thousand.
    if (rebuild) {
      buildTable();
      applyFilter();
    } else {
      for (const ns of dirty) { updateRow(ns); filterRow(ns, filterWords()); }
      if (filterWords().length > 0) hideEmptyGroups();
    }
    rebuild = false;
    dirty = new Set();
    updateCounts();
  });
}

// ---- the table ----

function groupsOf() {
  const groups = new Map();
  for (const p of procs.values()) {
    if (!groups.has(p.group)) groups.set(p.group, []);
    groups.get(p.group).push(p);
  }
  return groups;
}

function buildTable() {
  const table = $('processes');
  for (const body of table.querySelectorAll('tbody')) body.remove();
  rows.clear();
  onScreen.clear();
  watcher.disconnect();
  const loose = el('tbody', { class: 'loose' });
  for (const [group, members] of groupsOf()) {
    // A program alone in its namesake group is shown without a group header, as Python does.
    if (members.length === 1 && members[0].name === group) {
      loose.append(makeRow(members[0]));
      continue;
    }
    const body = el('tbody', { class: 'group' });
    body.dataset.group = group;
    const head = el('tr', { class: 'group-head' });
    const th = el('th', { colspan: '4', scope: 'rowgroup' });
    const toggle = el('button', { type: 'button', class: 'fold' });
    toggle.append(el('span', { class: 'chevron', 'aria-hidden': 'true' }), document.createTextNode(group));
    const count = el('span', { class: 'group-count' });
    toggle.addEventListener('click', () => fold(body, !body.classList.contains('folded')));
    th.append(toggle, count);
    head.append(th);
    body.append(head);
    for (const p of members) body.append(makeRow(p));
    fold(body, folded.has(group));
    table.append(body);
  }
  table.insertBefore(loose, table.querySelector('tbody'));
  $('empty').hidden = procs.size !== 0;
  // The server's table has been replaced by the live one (tests and the bench wait for this).
  table.dataset.live = '';
}

function fold(body, on) {
  body.classList.toggle('folded', on);
  body.querySelector('.fold').setAttribute('aria-expanded', String(!on));
  if (on) folded.add(body.dataset.group); else folded.delete(body.dataset.group);
  localStorage.setItem('folded', JSON.stringify([...folded]));
}

function makeRow(p) {
  const tr = el('tr', { class: 'proc' });
  tr.dataset.namespec = p.namespec;
  const state = el('span', { class: 'state' });
  const desc = el('td', { class: 'desc' });
  const text = el('span', { class: 'text' });
  const tags = el('span', { class: 'tags' });
  desc.append(text, tags);
  const name = el('td', { class: 'name' });
  const actions = el('td', { class: 'actions' });
  const button = (label, handler, cls) => {
    const b = el('button', { type: 'button', class: cls }, label);
    b.addEventListener('click', () => handler(tr.dataset.namespec));
    actions.append(b);
    return b;
  };
  const buttons = {
    start: button('Start', (ns) => act('start', ns), 'start'),
    restart: button('Restart', (ns) => act('restart', ns), 'restart'),
    stop: button('Stop', (ns) => act('stop', ns), 'stop'),
    clear: button('Clear log', (ns) => act('clearlog', ns), 'clear'),
    tail: button('Tail', (ns) => openLog(ns), 'tail'),
  };
  const stateCell = el('td', { class: 'status' });
  stateCell.append(state);
  tr.append(stateCell, desc, name, actions);
  rows.set(p.namespec, { tr, state, text, tags, name, buttons });
  watcher.observe(tr);
  updateRow(p.namespec);
  return tr;
}

// What our additions say of a process (render.rs's `tags_html` makes the same for the server's
// table): its health check's verdict, a wait for its dependencies, its next scheduled run.
function tagsOf(p) {
  const tags = [];
  if (p.health !== 'none') {
    tags.push(el('span', { class: `tag h-${p.health}` }, p.health === 'unknown' ? 'health unknown' : p.health));
  }
  if (p.waiting) tags.push(el('span', { class: 'tag waiting' }, 'waiting for dependencies'));
  if (p.next_run > 0) {
    const when = new Date(p.next_run * 1000);
    const time = el('time', { datetime: when.toISOString() }, when.toLocaleString());
    const tag = el('span', { class: 'tag next' }, 'next run ');
    tag.append(time);
    tags.push(tag);
  }
  return tags;
}

function updateRow(ns) {
  const p = procs.get(ns);
  const r = rows.get(ns);
  if (!p || !r) return;
  r.state.textContent = p.state.toLowerCase();
  r.state.className = `state s-${p.state.toLowerCase()}`;
  r.tr.dataset.state = p.state;
  r.text.textContent = describe(p);
  r.tags.replaceChildren(...tagsOf(p));
  r.name.textContent = p.namespec;
  const up = RUNNING_LIKE.has(p.state);
  r.buttons.start.hidden = up;
  r.buttons.restart.hidden = !up;
  r.buttons.stop.hidden = !up;
  for (const b of Object.values(r.buttons)) b.setAttribute('aria-label', `${b.textContent} ${ns}`);
}

function updateCounts() {
  const counts = new Map();
  for (const p of procs.values()) counts.set(p.state, (counts.get(p.state) || 0) + 1);
  const box = $('counts');
  box.replaceChildren();
  for (const state of STATE_ORDER) {
    if (!counts.has(state)) continue;
    const chip = el('button', { type: 'button', class: `chip s-${state.toLowerCase()}` });
    chip.dataset.state = state;
    chip.append(el('span', {}, state.toLowerCase()), el('b', {}, String(counts.get(state))));
    chip.addEventListener('click', () => { $('filter').value = state.toLowerCase(); applyFilter(); });
    box.append(chip);
  }
  for (const body of document.querySelectorAll('tbody.group')) {
    const members = body.querySelectorAll('tr.proc');
    const up = [...members].filter((tr) => tr.dataset.state === 'RUNNING').length;
    body.querySelector('.group-count').textContent = `${up}/${members.length} running`;
  }
}

function filterWords() {
  return $('filter').value.trim().toLowerCase().split(/\s+/).filter(Boolean);
}

function filterRow(ns, words) {
  const p = procs.get(ns);
  const r = rows.get(ns);
  if (!p || !r) return;
  const extra = `${p.health === 'none' ? '' : p.health} ${p.waiting ? 'waiting' : ''}`;
  const hay = `${ns} ${p.state} ${p.description} ${extra}`.toLowerCase();
  const hidden = !words.every((w) => hay.includes(w));
  if (r.tr.hidden !== hidden) r.tr.hidden = hidden;
}

function hideEmptyGroups() {
  const words = filterWords();
  for (const body of document.querySelectorAll('tbody.group')) {
    body.hidden = words.length > 0 && !body.querySelector('tr.proc:not([hidden])');
  }
}

function applyFilter() {
  const words = filterWords();
  for (const ns of rows.keys()) filterRow(ns, words);
  hideEmptyGroups();
}

// Uptimes tick here, not on the server: once a second, for the running rows on screen only
// (a thousand rows rewritten every second would make every frame late).
const onScreen = new Set();
const watcher = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const ns = e.target.dataset.namespec;
    if (e.isIntersecting) onScreen.add(ns); else onScreen.delete(ns);
  }
});
setInterval(() => {
  for (const ns of onScreen) {
    const p = procs.get(ns);
    const r = rows.get(ns);
    if (p && r && p.state === 'RUNNING') r.text.textContent = describe(p);
  }
}, 1000);

// ---- actions ----

function say(text, error) {
  const m = $('message');
  m.textContent = text;
  m.className = error ? 'error' : 'ok';
  m.hidden = false;
}

async function act(verb, ns) {
  const path = ns === undefined ? `/web/api/${verb}` : `/web/api/${verb}/${encodeURIComponent(ns)}`;
  try {
    const response = await fetch(path, { method: 'POST', headers: { 'X-Supervisor-Web': '1' } });
    const body = await response.json();
    say(body.message || body.error, !response.ok);
  } catch (e) {
    say(`${verb} failed: ${e}`, true);
  }
}

function confirmDialog(text) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  return new Promise((resolve) => {
    const done = (answer) => {
      $('confirm-ok').onclick = null;
      $('confirm-cancel').onclick = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    $('confirm-ok').onclick = () => done(true);
    $('confirm-cancel').onclick = () => done(false);
    dialog.onclose = () => done(false);
    dialog.showModal();
    $('confirm-cancel').focus();
  });
}

// Stop all and Restart all are forms for readers without script; here they ask first.
$('stopall').addEventListener('click', async (e) => {
  e.preventDefault();
  if (await confirmDialog(`Stop all ${procs.size} processes?`)) act('stopall');
});
$('restartall').addEventListener('click', async (e) => {
  e.preventDefault();
  if (await confirmDialog(`Restart all ${procs.size} processes?`)) act('restartall');
});
$('filter').addEventListener('input', applyFilter);
document.addEventListener('keydown', (e) => {
  if (e.key === '/' && document.activeElement.tagName !== 'INPUT' && !document.querySelector('dialog[open]')) {
    e.preventDefault();
    $('filter').focus();
  }
});

// ---- the log view ----

const log = { abort: null, paused: false, pending: '', namespec: null, size: 0 };

function logPath() {
  return log.namespec === null ? '/mainlogtail' : `/logtail/${encodeURIComponent(log.namespec)}/${$('log-channel').value}`;
}

function showText(text) {
  const pre = $('log-text');
  pre.append(document.createTextNode(text));
  log.size += text.length;
  if (log.size > LOG_LIMIT) {
    const kept = pre.textContent.slice(-LOG_LIMIT / 2);
    pre.textContent = kept;
    log.size = kept.length;
  }
  if ($('log-follow').checked) pre.scrollTop = pre.scrollHeight;
}

function receive(text) {
  if (log.paused) log.pending += text; else showText(text);
}

async function follow() {
  if (log.abort) log.abort.abort();
  const abort = new AbortController();
  log.abort = abort;
  $('log-text').replaceChildren();
  log.size = 0;
  log.pending = '';
  try {
    const response = await fetch(logPath(), { signal: abort.signal });
    if (!response.ok) { receive(`(no log: HTTP ${response.status})\n`); return; }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      receive(decoder.decode(value, { stream: true }));
    }
  } catch (e) {
    if (!abort.signal.aborted) receive(`\n(log stream ended: ${e})\n`);
  }
}

function openLog(ns, channel = 'stdout') {
  log.namespec = ns;
  $('log-title').textContent = ns === null ? 'Main log' : ns;
  $('log-channel').hidden = ns === null;
  $('log-channel').value = channel;
  setDownload();
  setPaused(false);
  const dialog = $('log');
  if (!dialog.open) dialog.showModal();
  $('log-text').focus();
  follow();
}

function setDownload() {
  $('log-download').href = log.namespec === null
    ? '/web/download/main'
    : `/web/download/${encodeURIComponent(log.namespec)}/${$('log-channel').value}`;
}

function setPaused(on) {
  log.paused = on;
  const b = $('log-pause');
  b.textContent = on ? 'Resume' : 'Pause';
  b.setAttribute('aria-pressed', String(on));
  if (!on && log.pending) { const text = log.pending; log.pending = ''; showText(text); }
}

$('log-pause').addEventListener('click', () => setPaused(!log.paused));
$('log-channel').addEventListener('change', () => { setDownload(); follow(); });
$('log-close').addEventListener('click', () => $('log').close());
$('log').addEventListener('close', () => { if (log.abort) log.abort.abort(); log.abort = null; });
$('mainlog').addEventListener('click', () => openLog(null));

// Python's tail links (/tail.html?processname=x) open that process's log.
let tailOpened = false;
function openRequestedTail() {
  if (tailOpened || location.pathname !== '/tail.html') return;
  tailOpened = true;
  const name = new URLSearchParams(location.search).get('processname');
  if (name) openLog(name);
}

// What only works with script is hidden in the server's page; the static tail gives way to
// the live log view.
for (const id of ['connection', 'filter', 'mainlog']) $(id).hidden = false;
$('static-tail')?.remove();
connect();
