// The DockStack dashboard: state from one EventSource (/api/v1/stream), drawn with plain DOM calls.
// Registry and manifest data are untrusted: everything reaches the page as textContent, never HTML.
'use strict';

const state = { writable: false, objects: new Map(), backends: new Map(), events: [], summary: null, live: false };
const MAX_EVENTS = 200;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}

let pending = false;
function render() {
  if (pending) return;
  pending = true;
  setTimeout(() => {
    pending = false;
    draw();
  }, 30);
}

function connect() {
  const es = new EventSource('/api/v1/stream');
  const on = (name, fn) => es.addEventListener(name, (m) => {
    fn(JSON.parse(m.data));
    render();
  });
  on('hello', (h) => {
    state.writable = h.writable === true;
    state.objects.clear();
    state.backends.clear();
    state.events = [];
    state.live = true;
  });
  on('object', (v) => state.objects.set(`${v.kind.toLowerCase()}/${v.metadata.name}`, v));
  on('deleted', (d) => state.objects.delete(d.key));
  on('event', (e) => {
    state.events.push(e);
    if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
  });
  on('backends', (b) => state.backends.set(b.name, b.servers));
  on('summary', (s) => (state.summary = s));
  es.onerror = () => {
    state.live = false;
    render();
  };
}

const cond = (v, type) => v.status.conditions.find((c) => c.type === type);
const objectsOf = (kind) => [...state.objects.values()].filter((v) => v.kind === kind).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));

function badge(text, cls, title) {
  return el('span', { class: `badge ${cls}`, title }, text);
}
function readyBadge(v) {
  const r = cond(v, 'Ready');
  if (v.status.validationErrors.length && !r) return badge('Invalid', 'bad', v.status.validationErrors.join('\n'));
  if (!r) return badge('Unknown', 'unknown');
  return badge(r.status === 'True' ? 'Ready' : r.reason || 'NotReady', r.status === 'True' ? 'ok' : 'bad', r.message || r.reason);
}
function duration(s) {
  if (s === undefined) return '–';
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86400)}d`;
}

function draw() {
  const conn = document.getElementById('conn');
  conn.textContent = state.live ? 'live' : 'reconnecting…';
  conn.className = `conn ${state.live ? 'on' : 'off'}`;
  drawSummary();
  drawWrites();
  drawErrors();
  document.getElementById('services').replaceChildren(servicesTable());
  document.getElementById('subscriptions').replaceChildren(...subscriptionCards());
  document.getElementById('events').replaceChildren(eventsTable());
}

function drawSummary() {
  const services = objectsOf('Service');
  const subs = objectsOf('Subscription');
  const ready = (list) => list.filter((v) => cond(v, 'Ready')?.status === 'True').length;
  const r = state.summary?.reloads;
  const parts = [`services ${ready(services)}/${services.length} ready`, `subscriptions ${ready(subs)}/${subs.length} ready`];
  if (r) parts.push(`HAProxy reloads ${r.total}${r.total ? ` (${Object.entries(r.byReason).map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`, `runtime edits ${r.runtimeCommands}`);
  document.getElementById('summary').textContent = parts.join(' · ');
  const rev = state.summary?.revision;
  const revision = document.getElementById('revision');
  revision.textContent = rev ? `revision ${short(rev)}` : '';
  revision.title = rev ? `the manifests' commit in force: ${rev}` : '';
}

const short = (rev) => rev.slice(0, 12);
// Where an object's manifest came from, and the revision that fails validation while the last good one stays.
function sourceLine(v) {
  const rev = v.metadata.revision;
  return el('small', { class: 'source', title: rev ?? '' }, `${v.metadata.source ?? ''}${rev ? ` @ ${short(rev)}` : ''}`);
}
function failedBadge(v) {
  const failed = v.status.failedRevision;
  if (!failed) return null;
  const kept = v.metadata.revision ? `${short(v.metadata.revision)} stays in force` : 'nothing in force';
  return badge(`revision ${short(failed)} invalid`, 'bad failed-revision', `${failed} does not validate; ${kept}`);
}

function drawWrites() {
  const box = document.getElementById('writes');
  if (!state.writable) return box.replaceChildren();
  if (box.firstChild) return;
  const input = el('input', { type: 'password', id: 'token', placeholder: 'status token', autocomplete: 'off' });
  input.value = sessionStorage.getItem('dockstack-token') ?? '';
  input.addEventListener('change', () => sessionStorage.setItem('dockstack-token', input.value));
  box.replaceChildren(el('label', { for: 'token' }, 'writes: '), input);
}

function drawErrors() {
  const section = document.getElementById('errors');
  const items = [];
  for (const v of state.objects.values()) {
    const at = v.status.failedRevision ? ` (revision ${short(v.status.failedRevision)})` : '';
    for (const e of v.status.validationErrors) items.push([`${v.kind.toLowerCase()}/${v.metadata.name}${at}`, e]);
  }
  for (const e of state.summary?.manifestErrors ?? []) items.push(['', e]);
  section.hidden = items.length === 0;
  section.querySelector('ul').replaceChildren(...items.map(([obj, msg]) => el('li', { class: 'manifest-error' }, obj && el('b', {}, obj), obj && ' ', el('code', {}, msg))));
}

function servicesTable() {
  const list = objectsOf('Service');
  if (list.length === 0) return el('p', { class: 'empty' }, 'No Services.');
  return el('table', {},
    el('thead', {}, el('tr', {}, ...['Name', 'Ready', 'Registered', 'Path', 'Checks', state.writable && ''].filter((h) => h !== false).map((h) => el('th', {}, h)))),
    el('tbody', {}, ...list.map((v) => {
      const d = v.status.details;
      const key = `service/${v.metadata.name}`;
      const registered = d.registryKey ? `${d.host}:${d.port}` : null;
      const checks = (d.checks ?? []).map((c) => el('div', { class: `check ${c.healthy ? 'pass' : 'fail'}`, title: c.lastError ?? '' },
        `${c.type} ${c.target} · ${c.lastResult}${c.latencyMs !== undefined ? ` ${Math.round(c.latencyMs)} ms` : ''}`, c.lastError && el('small', {}, ` ${c.lastError}`)));
      const draining = d.drain && d.drain !== null;
      return el('tr', { 'data-object': key },
        el('td', { class: 'name' }, v.metadata.name, sourceLine(v)),
        el('td', {}, readyBadge(v), failedBadge(v)),
        el('td', {}, registered ? el('code', {}, registered) : badge(cond(v, 'Registered')?.reason ?? 'not registered', 'unknown')),
        el('td', {}, el('code', {}, v.spec?.path ?? d.path ?? '–')),
        el('td', {}, checks.length ? checks : el('span', { class: 'muted' }, 'no checks')),
        state.writable && el('td', {}, el('button', { onclick: () => write(`/api/v1/services/${encodeURIComponent(v.metadata.name)}/drain`, { on: !draining }) }, draining ? 'Undrain' : 'Drain')));
    })));
}

function subscriptionCards() {
  const list = objectsOf('Subscription');
  if (list.length === 0) return [el('p', { class: 'empty' }, 'No Subscriptions.')];
  return list.map((v) => {
    const d = v.status.details;
    const name = v.metadata.name;
    const live = state.backends.get(name);
    const maint = new Set(d.maintenance ?? []);
    // Until the proxy reports them (or with --proxy none, never), the servers the agent chose.
    const servers = live?.length ? live : (d.backends ?? []).map((address) => ({ address, word: maint.has(address) ? 'MAINT' : 'PENDING' }));
    const up = servers.filter((s) => s.word === 'UP').length;
    return el('article', { class: 'card', 'data-object': `subscription/${name}` },
      el('div', { class: 'card-head' },
        el('span', { class: 'name' }, name), readyBadge(v), failedBadge(v), sourceLine(v),
        el('span', { class: 'muted' }, 'listen ', el('code', {}, d.listen ?? (v.spec ? `${v.spec.listen.address}:${v.spec.listen.port}` : '–')), ' → ', el('code', {}, v.spec?.service ?? '–')),
        d.source && badge(d.source, d.source === 'registry' ? 'ok' : d.source === 'none' ? 'bad' : 'warn', 'where the backends come from: registry, fail-static (last known), state-file (saved by the previous agent), adopted (what the HAProxy left running served), defaults (spec.defaultServers) or none'),
        el('span', { class: 'updown' }, `${up}/${servers.length} up`)),
      el('div', { class: 'conditions' }, ...v.status.conditions.map((c) => badge(`${c.type}: ${c.reason}`, c.status === 'True' ? 'ok' : c.status === 'False' ? 'bad' : 'unknown', c.message))),
      v.status.lastError && el('div', { class: 'error' }, v.status.lastError),
      servers.length === 0 ? el('p', { class: 'empty' }, 'No backends.') : el('table', {},
        el('thead', {}, el('tr', {}, ...['Backend', 'State', 'Check', 'Sessions', 'Last change', 'Weight', state.writable && ''].filter((h) => h !== false).map((h) => el('th', {}, h)))),
        el('tbody', {}, ...servers.map((s) => el('tr', { 'data-backend': s.address },
          el('td', {}, el('code', {}, s.address)),
          el('td', {}, el('span', { class: `badge state state-${s.word.toLowerCase()}`, title: s.detail ?? 'not read from HAProxy yet' }, s.word)),
          el('td', {}, s.check ? `${s.check.status}${s.check.durationMs !== undefined ? ` ${s.check.durationMs} ms` : ''}` : '–'),
          el('td', {}, s.sessions ?? '–'),
          el('td', {}, duration(s.lastChangeSeconds)),
          el('td', {}, s.weight ?? '–'),
          state.writable && el('td', {}, el('button', { onclick: () => write(`/api/v1/subscriptions/${encodeURIComponent(name)}/maintenance`, { backend: s.address, on: !maint.has(s.address) }) }, maint.has(s.address) ? 'Release' : 'Maintenance')))))));
  });
}

function eventsTable() {
  const list = state.events.slice(-30).reverse();
  if (list.length === 0) return el('p', { class: 'empty' }, 'No events yet.');
  return el('table', { class: 'events' },
    el('thead', {}, el('tr', {}, ...['Time', 'Object', 'Reason', 'Message'].map((h) => el('th', {}, h)))),
    el('tbody', {}, ...list.map((e) => el('tr', { class: e.type === 'Warning' ? 'warning' : '' },
      el('td', {}, new Date(e.time).toLocaleTimeString()), el('td', {}, e.object), el('td', {}, e.reason), el('td', {}, e.message)))));
}

async function write(path, body) {
  const token = document.getElementById('token')?.value ?? '';
  const toast = document.getElementById('toast');
  try {
    const res = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    const answer = await res.json();
    toast.textContent = res.ok ? `done: ${JSON.stringify(answer)}` : `refused (${res.status}): ${answer.error}`;
    toast.className = res.ok ? 'ok' : 'bad';
  } catch (err) {
    toast.textContent = `failed: ${err}`;
    toast.className = 'bad';
  }
}

connect();
