// The alert queue: filters kept in the URL, sort, multi-select with bulk
// triage, keyboard shortcuts, and live arrivals announced (not inserted) so
// the rows under the analyst's cursor never move.

import { h, replace, num, timeEl, levelBadge, statusBadge, label, debounce, LEVELS, STATUSES, $$ } from '../lib/dom.js';
import { api, stream } from '../lib/api.js';
import { SECTORS, sectorLabel, sectorColour } from '../lib/charts.js';
import { techniqueName } from '../lib/attack.js';
import { errorBox, spinner } from '../lib/ui.js';
import * as triage from '../lib/triage.js';
import { intelBadge } from '../lib/prevent.js';

const OPEN = ['new', 'acknowledged', 'in_progress'];
const PAGE = 100;
const RANGES = [['', 'Any time'], ['1h', 'Last hour'], ['6h', 'Last 6 h'], ['24h', 'Last 24 h'], ['168h', 'Last 7 days'], ['720h', 'Last 30 days'], ['custom', 'Custom…']];
// Sort orders as the API names them: each has a natural direction (most
// recent, most severe, most hits first); a leading "-" reverses it.
const SORTS = [['last_seen', 'Latest activity'], ['-last_seen', 'Oldest activity'], ['level', 'Most severe'], ['count', 'Most hits'], ['first_seen', 'Newest'], ['-first_seen', 'Oldest']];
const RANK = { critical: 5, high: 4, medium: 3, low: 2, informational: 1 };

// Where the queue was last, for the detail page's "back" link.
export const lastQueue = () => sessionStorage.getItem('mamori.queue') || '/ui/alerts';

export function mount(ctx) {
  ctx.title('Alerts');
  const me = ctx.me;
  const can = me.can || {};
  const national = !me.org_id;
  let q = ctx.query;
  let rows = []; // loaded alerts, in display order
  const byId = new Map(); // id → {a, tr}
  const selected = new Set();
  let cursor = -1;
  let next = '';
  let total = 0;
  let pending = 0; // live arrivals not shown
  let ctl = new AbortController();
  let alive = true;
  let sortNote = '';

  // Filter bar.
  const text = h('input#f-q', { type: 'search', placeholder: 'Search title, host, user, IP…  ( / )', 'aria-label': 'Free text', value: q.get('q') || '' });
  text.addEventListener('input', debounce(() => ctx.setQuery({ q: text.value.trim() }, { replace: true }), 350));
  const chips = (key, values, current, fmt = label) => h('div.chips', { role: 'group', 'aria-label': key },
    values.map((v) => h('button.chip', { type: 'button', 'aria-pressed': String(current.includes(v)), dataset: { key, value: v }, class: key === 'level' ? `lv-chip-${v}` : '', onclick: () => toggle(key, v) }, fmt(v))));
  const orgSel = h('select#f-org', { 'aria-label': 'Organisation', onchange: (e) => ctx.setQuery({ org: e.target.value }) }, h('option', { value: '' }, 'All organisations'));
  const sectorSel = h('select#f-sector', { 'aria-label': 'Sector', onchange: (e) => ctx.setQuery({ sector: e.target.value }) },
    h('option', { value: '' }, 'All sectors'), SECTORS.map((s) => h('option', { value: s }, sectorLabel(s))));
  const ruleSel = h('select#f-rule', { 'aria-label': 'Rule', onchange: (e) => ctx.setQuery({ rule_id: e.target.value }) }, h('option', { value: '' }, 'All rules'));
  const techIn = h('input#f-technique', { placeholder: 'Technique, e.g. T1110', 'aria-label': 'ATT&CK technique', size: 18 });
  techIn.addEventListener('change', () => ctx.setQuery({ technique: techIn.value.trim().toUpperCase() }));
  const assignIn = h('input#f-assignee', { placeholder: 'Assignee', 'aria-label': 'Assignee', size: 10, list: 'assignees' });
  assignIn.addEventListener('change', () => ctx.setQuery({ assignee: assignIn.value.trim() }));
  const rangeSel = h('select#f-range', { 'aria-label': 'Time range', onchange: onRange }, RANGES.map(([v, t]) => h('option', { value: v }, t)));
  const sinceIn = h('input#f-since', { type: 'datetime-local', 'aria-label': 'From', onchange: onCustom });
  const untilIn = h('input#f-until', { type: 'datetime-local', 'aria-label': 'Until', onchange: onCustom });
  const custom = h('span.custom-range', sinceIn, '→', untilIn);
  const sortSel = h('select#f-sort', { 'aria-label': 'Sort', onchange: (e) => ctx.setQuery({ sort: e.target.value === 'last_seen' ? '' : e.target.value }) }, SORTS.map(([v, t]) => h('option', { value: v }, t)));
  const statusBox = h('span');
  const levelBox = h('span');

  const count = h('span.count#q-count');
  const liveBtn = h('button.live-new#q-new', { type: 'button', hidden: true, onclick: () => load() });
  const selInfo = h('span.sel-info#q-selected');
  const bulk = can.triage ? h('div.bulk#bulk', { role: 'toolbar', 'aria-label': 'Bulk actions' },
    h('button#b-ack', { type: 'button', onclick: () => act('acknowledge'), title: 'Acknowledge (a)' }, 'Acknowledge'),
    h('button#b-start', { type: 'button', onclick: () => act('start') }, 'In progress'),
    h('button#b-assign', { type: 'button', onclick: () => act('assign'), title: 'Assign to me (m)' }, 'Assign to me'),
    h('button#b-close', { type: 'button', onclick: () => act('close'), title: 'Close with a resolution (c)' }, 'Close…')) : null;
  const tableWrap = h('div.table-wrap#q-table');
  const more = h('div.more');

  replace(ctx.root,
    h('div.page-head', h('h1', 'Alert queue'), h('div.page-tools', count, liveBtn)),
    h('div.filters#filters',
      h('div.filter-row', text, statusBox, levelBox),
      h('div.filter-row', national ? orgSel : null, national ? sectorSel : null, ruleSel, techIn, assignIn,
        h('button.chip', { type: 'button', onclick: () => ctx.setQuery({ assignee: q.get('assignee') === me.user ? '' : me.user }), id: 'f-mine' }, 'Mine'),
        h('button.chip', { type: 'button', onclick: () => ctx.setQuery({ assignee: q.get('assignee') === '-' ? '' : '-' }), id: 'f-unassigned' }, 'Unassigned'),
        rangeSel, custom, sortSel,
        h('button.ghost', { type: 'button', onclick: () => ctx.navigate('/ui/alerts') }, 'Reset'))),
    h('datalist#assignees', h('option', { value: me.user })),
    h('div.queue-bar', h('label.selall', h('input#q-selall', { type: 'checkbox', 'aria-label': 'Select all', onchange: (e) => selectAll(e.target.checked) })), selInfo, bulk),
    tableWrap, more);

  // Option lists.
  if (national) {
    api('orgs').then((r) => {
      for (const o of (r.orgs || []).sort((a, b) => a.name.localeCompare(b.name))) orgSel.append(h('option', { value: o.id }, o.name));
      orgSel.value = q.get('org') || '';
    }).catch(() => {});
  }
  api('rules').then((r) => {
    for (const x of (r.rules || []).sort((a, b) => a.title.localeCompare(b.title))) ruleSel.append(h('option', { value: x.id }, x.title));
    ruleSel.value = q.get('rule_id') || '';
  }).catch(() => {});

  function syncFilters() {
    text.value !== (q.get('q') || '') && document.activeElement !== text && (text.value = q.get('q') || '');
    replace(statusBox, chips('status', [...STATUSES, 'all'], statuses(), (s) => (s === 'all' ? 'any status' : label(s))));
    replace(levelBox, chips('level', LEVELS, list('level')));
    orgSel.value = q.get('org') || '';
    sectorSel.value = q.get('sector') || '';
    ruleSel.value = q.get('rule_id') || '';
    techIn.value = q.get('technique') || '';
    assignIn.value = q.get('assignee') === '-' ? '' : q.get('assignee') || '';
    $$('#f-mine', ctx.root).forEach((b) => b.setAttribute('aria-pressed', String(q.get('assignee') === me.user)));
    $$('#f-unassigned', ctx.root).forEach((b) => b.setAttribute('aria-pressed', String(q.get('assignee') === '-')));
    const since = q.get('since') || '';
    const isCustom = since && !RANGES.some(([v]) => v === since);
    rangeSel.value = isCustom || q.get('until') ? 'custom' : since;
    custom.hidden = rangeSel.value !== 'custom';
    if (isCustom || q.get('until')) {
      sinceIn.value = toLocalInput(since);
      untilIn.value = toLocalInput(q.get('until'));
    }
    sortSel.value = q.get('sort') || 'last_seen';
  }

  const list = (k) => (q.get(k) || '').split(',').filter(Boolean);
  const statuses = () => (q.get('status') === 'all' ? ['all'] : q.has('status') ? list('status') : OPEN);

  function toggle(key, v) {
    if (key === 'status') {
      if (v === 'all') return ctx.setQuery({ status: 'all' });
      let cur = statuses().filter((s) => s !== 'all');
      cur = cur.includes(v) ? cur.filter((s) => s !== v) : [...cur, v];
      const same = cur.length === OPEN.length && OPEN.every((s) => cur.includes(s));
      return ctx.setQuery({ status: same ? '' : cur.length ? cur.join(',') : 'all' });
    }
    const cur = list(key);
    ctx.setQuery({ [key]: (cur.includes(v) ? cur.filter((x) => x !== v) : [...cur, v]).join(',') });
  }

  function onRange() {
    const v = rangeSel.value;
    if (v === 'custom') {
      custom.hidden = false;
      sinceIn.focus();
      return;
    }
    ctx.setQuery({ since: v, until: '' });
  }
  function onCustom() {
    const s = sinceIn.value ? new Date(sinceIn.value).toISOString() : '';
    const u = untilIn.value ? new Date(untilIn.value).toISOString() : '';
    ctx.setQuery({ since: s, until: u });
  }

  function apiQuery(withSort = true) {
    const out = { limit: PAGE, events: 'false' };
    for (const k of ['q', 'level', 'sector', 'org', 'technique', 'rule_id', 'since', 'until', 'assignee']) if (q.get(k)) out[k] = q.get(k);
    const st = statuses();
    if (!st.includes('all')) out.status = st.join(',');
    if (withSort && q.get('sort')) out.sort = q.get('sort');
    return out;
  }

  async function load(append = false) {
    ctl.abort();
    ctl = new AbortController();
    pending = 0;
    liveBtn.hidden = true;
    if (!append) {
      sessionStorage.setItem('mamori.queue', location.pathname + location.search);
      if (!rows.length) replace(tableWrap, spinner());
    }
    let r;
    try {
      try {
        r = await api('alerts', { query: { ...apiQuery(), cursor: append ? next : '' }, signal: ctl.signal });
        sortNote = '';
      } catch (e) {
        // A server without sort (or other new filters) refuses them: retry plain.
        if (e.status !== 400 || !/sort/i.test(e.message)) throw e;
        r = await api('alerts', { query: { ...apiQuery(false), cursor: append ? next : '' }, signal: ctl.signal });
        sortNote = 'sorted in the browser (this page only)';
      }
    } catch (e) {
      if (e.name === 'AbortError' || !alive) return;
      replace(tableWrap, errorBox(e));
      return;
    }
    if (!alive) return;
    const got = r.alerts || [];
    if (!append) {
      rows = [];
      byId.clear();
      selected.clear();
      cursor = got.length ? 0 : -1;
    }
    for (const a of got) if (!byId.has(a.id)) rows.push(a);
    sortRows();
    if (!append) {
      // Back from an alert: the cursor returns to it.
      const last = rows.findIndex((a) => a.id === sessionStorage.getItem('mamori.queue.last'));
      if (last >= 0) cursor = last;
    }
    total = r.total;
    next = r.next || '';
    draw();
  }

  // sortRows keeps the loaded rows in the order the server gives (or would
  // give, when it cannot sort): descending by nature, "-" reverses.
  function sortRows() {
    const s = q.get('sort') || 'last_seen';
    const desc = !s.startsWith('-');
    const k = s.replace(/^-/, '');
    const val = (a) => (k === 'level' ? RANK[a.level] || 0 : k === 'count' ? a.count : a[k] || '');
    rows.sort((a, b) => {
      const x = val(a);
      const y = val(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1);
    });
  }

  const cols = [
    can.triage ? { cls: 'sel', head: '', td: (a) => h('input.rowsel', { type: 'checkbox', checked: selected.has(a.id), 'aria-label': 'Select', onclick: (e) => { e.stopPropagation(); select(a.id, e.target.checked); } }) } : null,
    { cls: 'lvl', head: 'Level', td: (a) => levelBadge(a.level) },
    { cls: 'st', head: 'Status', td: (a) => statusBadge(a.status) },
    { cls: 'title', head: 'Alert', td: (a) => [h('a.alert-link', { href: `/ui/alerts/${encodeURIComponent(a.id)}`, onclick: () => remember(a.id) }, a.rule_title), intelBadge(a)] },
    national ? { cls: 'org', head: 'Organisation', td: (a) => h('span.sector', h('span.dot', { style: { background: sectorColour(a.sector) }, title: sectorLabel(a.sector) }), a.org || a.org_id) } : null,
    { cls: 'host', head: 'Host · user', td: (a) => [h('div', a.host || '—'), a.user ? h('div.sub', a.user) : null] },
    { cls: 'ip', head: 'Source', td: (a) => a.src_ip || '—' },
    { cls: 'attack', head: 'ATT&CK', td: (a) => (a.techniques || []).slice(0, 2).map((t) => h('span.tech', { title: techniqueName(t) }, t)) },
    { cls: 'num', head: 'Hits', td: (a) => num(a.count) },
    { cls: 'time', head: 'Last seen', td: (a) => timeEl(a.last_seen) },
    { cls: 'asg', head: 'Assignee', td: (a) => a.assignee || '—' },
  ].filter(Boolean);

  function rowEl(a, i) {
    const tr = h('tr', { dataset: { id: a.id, i: String(i) }, class: [i === cursor ? 'cursor' : '', selected.has(a.id) ? 'selected' : '', matches(a) ? '' : 'stale'].join(' '),
      onclick: (e) => { if (!e.target.closest('a,input')) setCursor(i); }, ondblclick: () => open(a.id) },
    cols.map((c) => h('td', { class: c.cls }, c.td(a))));
    byId.set(a.id, { a, tr });
    return tr;
  }

  function draw() {
    byId.clear();
    const tbody = h('tbody', rows.map(rowEl));
    if (!rows.length) tbody.append(h('tr.empty-row', h('td', { colspan: cols.length }, 'No alerts match these filters.')));
    replace(tableWrap, h('table.grid.queue', h('thead', h('tr', cols.map((c) => h('th', { class: c.cls, scope: 'col' }, c.head)))), tbody));
    replace(count, `${num(total)} alert${total === 1 ? '' : 's'}`, rows.length < total ? ` · ${num(rows.length)} shown` : '', sortNote ? ` · ${sortNote}` : '');
    replace(more, next ? h('button#q-more', { type: 'button', onclick: () => load(true) }, `Load ${PAGE} more`) : '');
    drawSelection();
    const cur = rows[cursor] && byId.get(rows[cursor].id);
    if (cur && cursor > 0) cur.tr.scrollIntoView({ block: 'center' });
  }

  function drawSelection() {
    replace(selInfo, selected.size ? `${selected.size} selected` : rows.length && cursor >= 0 ? 'No selection: actions apply to the highlighted alert' : '');
    const all = $$('#q-selall', ctx.root)[0];
    if (all) {
      all.checked = rows.length > 0 && selected.size === rows.length;
      all.indeterminate = selected.size > 0 && selected.size < rows.length;
    }
    if (bulk) $$('button', bulk).forEach((b) => (b.disabled = !selected.size && cursor < 0));
  }

  function setCursor(i) {
    if (!rows.length) return;
    i = Math.max(0, Math.min(rows.length - 1, i));
    const old = rows[cursor] && byId.get(rows[cursor].id);
    if (old) old.tr.classList.remove('cursor');
    cursor = i;
    const cur = byId.get(rows[i].id);
    cur.tr.classList.add('cursor');
    cur.tr.scrollIntoView({ block: 'nearest' });
    drawSelection();
  }

  function select(id, on) {
    if (on) selected.add(id);
    else selected.delete(id);
    const r = byId.get(id);
    if (r) {
      r.tr.classList.toggle('selected', on);
      const cb = r.tr.querySelector('input.rowsel');
      if (cb) cb.checked = on;
    }
    drawSelection();
  }

  function selectAll(on) {
    for (const a of rows) select(a.id, on);
  }

  const remember = (id) => sessionStorage.setItem('mamori.queue.last', id);
  function open(id) {
    remember(id);
    ctx.navigate(`/ui/alerts/${encodeURIComponent(id)}`);
  }

  const targets = () => (selected.size ? [...selected] : rows[cursor] ? [rows[cursor].id] : []);

  async function act(action) {
    if (!can.triage) return;
    const ids = targets();
    const results = await triage.run(action, ids, me);
    if (!results || !alive) return;
    for (const r of results) {
      if (!r.ok) continue;
      const e = byId.get(r.id);
      if (!e) continue;
      const a = { ...e.a, ...r.change };
      delete a.comment;
      rows[rows.indexOf(e.a)] = a;
      const tr = rowEl(a, Number(e.tr.dataset.i));
      e.tr.replaceWith(tr);
      selected.delete(r.id);
      tr.classList.remove('selected');
      const cb = tr.querySelector('input.rowsel');
      if (cb) cb.checked = false;
    }
    drawSelection();
  }

  // matches tells whether a (live or changed) alert fits the current filters.
  function matches(a) {
    const st = statuses();
    if (!st.includes('all') && !st.includes(a.status)) return false;
    const lv = list('level');
    if (lv.length && !lv.includes(a.level)) return false;
    if (q.get('sector') && !list('sector').includes(a.sector)) return false;
    if (q.get('org') && !list('org').some((o) => o === a.org_id || o === a.org)) return false;
    if (q.get('rule_id') && q.get('rule_id') !== a.rule_id) return false;
    if (q.get('technique') && !(a.techniques || []).some((t) => t === q.get('technique') || t.startsWith(q.get('technique') + '.'))) return false;
    if (q.get('assignee') && (a.assignee || '') !== (q.get('assignee') === '-' ? '' : q.get('assignee'))) return false;
    if (q.get('q')) {
      const needle = q.get('q').toLowerCase();
      if (![a.rule_title, a.host, a.user, a.src_ip, a.org, a.org_id, a.id].some((v) => v && String(v).toLowerCase().includes(needle))) return false;
    }
    return true;
  }

  const unsub = stream.subscribe((a) => {
    if (!alive) return;
    const e = byId.get(a.id);
    if (e) {
      // An alert on screen changed (new hits, or another analyst's triage).
      const merged = { ...e.a, ...a };
      rows[rows.indexOf(e.a)] = merged;
      const tr = rowEl(merged, Number(e.tr.dataset.i));
      e.tr.replaceWith(tr);
      return;
    }
    if (q.get('until') || !matches(a)) return;
    pending++;
    liveBtn.hidden = false;
    replace(liveBtn, `${num(pending)} new — show`);
  });

  ctx.keys({
    j: () => setCursor(cursor + 1),
    k: () => setCursor(cursor - 1),
    ArrowDown: () => setCursor(cursor + 1),
    ArrowUp: () => setCursor(cursor - 1),
    x: () => rows[cursor] && select(rows[cursor].id, !selected.has(rows[cursor].id)),
    X: () => selectAll(selected.size !== rows.length),
    Enter: () => rows[cursor] && open(rows[cursor].id),
    o: () => rows[cursor] && open(rows[cursor].id),
    '/': () => text.focus(),
    a: () => act('acknowledge'),
    c: () => act('close'),
    m: () => act('assign'),
    r: () => load(),
  });

  syncFilters();
  load();

  return {
    update(nq) {
      q = nq;
      syncFilters();
      load();
    },
    destroy() {
      alive = false;
      ctl.abort();
      unsub();
    },
  };
}

function toLocalInput(v) {
  if (!v) return '';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
