// The incident list: alerts grouped into incidents (one attack on one
// organisation), with filters kept in the URL, sort, paging, the kill-chain
// stage each incident has reached, and the keyboard triage of the alert
// queue (j/k, Enter, a, s, m, c). New activity is announced, not inserted.

import { h, replace, num, time, levelBadge, statusBadge, label, debounce, throttle, STATUSES, $$ } from '../lib/dom.js';
import { api, stream } from '../lib/api.js';
import { SECTORS, sectorLabel, sectorColour } from '../lib/charts.js';
import { techniqueName } from '../lib/attack.js';
import { errorBox, spinner } from '../lib/ui.js';
import { SEVERITIES, OPEN, stageStrip, campaignBadge, age, shortTime } from '../lib/incident.js';
import * as triage from '../lib/triage.js';

const PAGE = 100;
const RANGES = [['', 'Any time'], ['1h', 'Last hour'], ['6h', 'Last 6 h'], ['24h', 'Last 24 h'], ['168h', 'Last 7 days'], ['720h', 'Last 30 days']];
// Sort orders as the API names them, each most-first; "-" reverses.
const SORTS = [['last_seen', 'Latest activity'], ['-last_seen', 'Oldest activity'], ['severity', 'Most severe'], ['first_seen', 'Newest'], ['-first_seen', 'Oldest'], ['updated', 'Recently updated']];

// Where the list was last, for the detail page's "back" link.
export const lastIncidents = () => sessionStorage.getItem('mamori.incidents') || '/ui/incidents';

export function mount(ctx) {
  ctx.title('Incidents');
  const me = ctx.me;
  const can = me.can || {};
  const national = !me.org_id;
  let q = ctx.query;
  let rows = [];
  const byId = new Map(); // id → {inc, tr}
  let cursor = -1;
  let next = 0;
  let total = 0;
  let ctl = new AbortController();
  let alive = true;
  let head = ''; // the first row and total as loaded, to notice new activity

  const text = h('input#i-q', { type: 'search', placeholder: 'Search title, host, user, IP, technique…  ( / )', 'aria-label': 'Free text', value: q.get('q') || '' });
  text.addEventListener('input', debounce(() => ctx.setQuery({ q: text.value.trim() }, { replace: true }), 350));
  const chips = (key, values, current, fmt = label) => h('div.chips', { role: 'group', 'aria-label': key },
    values.map((v) => h('button.chip', { type: 'button', 'aria-pressed': String(current.includes(v)), dataset: { key, value: v }, class: key === 'severity' ? `lv-chip-${v}` : '', onclick: () => toggle(key, v) }, fmt(v))));
  const orgSel = h('select#i-org', { 'aria-label': 'Organisation', onchange: (e) => ctx.setQuery({ org: e.target.value }) }, h('option', { value: '' }, 'All organisations'));
  const sectorSel = h('select#i-sector', { 'aria-label': 'Sector', onchange: (e) => ctx.setQuery({ sector: e.target.value }) },
    h('option', { value: '' }, 'All sectors'), SECTORS.map((s) => h('option', { value: s }, sectorLabel(s))));
  const assignIn = h('input#i-assignee', { placeholder: 'Assignee', 'aria-label': 'Assignee', size: 10, list: 'i-assignees' });
  assignIn.addEventListener('change', () => ctx.setQuery({ assignee: assignIn.value.trim() }));
  const rangeSel = h('select#i-range', { 'aria-label': 'Time range', onchange: (e) => ctx.setQuery({ since: e.target.value }) }, RANGES.map(([v, t]) => h('option', { value: v }, t)));
  const sortSel = h('select#i-sort', { 'aria-label': 'Sort', onchange: (e) => ctx.setQuery({ sort: e.target.value === 'last_seen' ? '' : e.target.value }) }, SORTS.map(([v, t]) => h('option', { value: v }, t)));
  const statusBox = h('span');
  const sevBox = h('span');
  const campaignBox = h('span#i-campaign');
  const count = h('span.count#i-count');
  const liveBtn = h('button.live-new#i-new', { type: 'button', hidden: true, onclick: () => load() }, 'New activity — refresh');
  const hint = h('span.sel-info#i-hint');
  const tableWrap = h('div.table-wrap#i-table');
  const more = h('div.more');

  replace(ctx.root,
    h('div.page-head', h('h1', 'Incidents'), h('div.page-tools', count, liveBtn)),
    h('div.filters#i-filters',
      h('div.filter-row', text, statusBox, sevBox),
      h('div.filter-row', national ? orgSel : null, national ? sectorSel : null, assignIn,
        h('button.chip#i-mine', { type: 'button', onclick: () => ctx.setQuery({ assignee: q.get('assignee') === me.user ? '' : me.user }) }, 'Mine'),
        h('button.chip#i-unassigned', { type: 'button', onclick: () => ctx.setQuery({ assignee: q.get('assignee') === '-' ? '' : '-' }) }, 'Unassigned'),
        rangeSel, sortSel, campaignBox,
        h('button.ghost', { type: 'button', onclick: () => ctx.navigate('/ui/incidents') }, 'Reset'))),
    h('datalist#i-assignees', h('option', { value: me.user })),
    h('div.queue-bar', hint),
    tableWrap, more);

  if (national) {
    api('orgs').then((r) => {
      for (const o of (r.orgs || []).sort((a, b) => a.name.localeCompare(b.name))) orgSel.append(h('option', { value: o.id }, o.name));
      orgSel.value = q.get('org') || '';
    }).catch(() => {});
  }

  const list = (k) => (q.get(k) || '').split(',').filter(Boolean);
  const statuses = () => (q.get('status') === 'all' ? ['all'] : q.has('status') ? list('status') : OPEN);

  function syncFilters() {
    if (document.activeElement !== text) text.value = q.get('q') || '';
    replace(statusBox, chips('status', [...STATUSES, 'all'], statuses(), (s) => (s === 'all' ? 'any status' : label(s))));
    replace(sevBox, chips('severity', SEVERITIES, list('severity')));
    orgSel.value = q.get('org') || '';
    sectorSel.value = q.get('sector') || '';
    assignIn.value = q.get('assignee') === '-' ? '' : q.get('assignee') || '';
    $$('#i-mine', ctx.root).forEach((b) => b.setAttribute('aria-pressed', String(q.get('assignee') === me.user)));
    $$('#i-unassigned', ctx.root).forEach((b) => b.setAttribute('aria-pressed', String(q.get('assignee') === '-')));
    const since = q.get('since') || '';
    if (since && ![...rangeSel.options].some((o) => o.value === since)) rangeSel.append(h('option', { value: since }, `Since ${time(since)}`));
    rangeSel.value = since;
    sortSel.value = q.get('sort') || 'last_seen';
    replace(campaignBox, q.get('campaign') ? h('span.chip.on', `campaign ${q.get('campaign')}`,
      h('button.x', { type: 'button', 'aria-label': 'Remove the campaign filter', onclick: () => ctx.setQuery({ campaign: '' }) }, '×')) : '');
  }

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

  function apiQuery() {
    const out = { limit: PAGE };
    for (const k of ['q', 'severity', 'sector', 'org', 'assignee', 'campaign', 'since', 'until', 'sort']) if (q.get(k)) out[k] = q.get(k);
    const st = statuses();
    if (!st.includes('all')) out.status = st.join(',');
    return out;
  }

  async function load(append = false) {
    ctl.abort();
    ctl = new AbortController();
    liveBtn.hidden = true;
    if (!append) {
      sessionStorage.setItem('mamori.incidents', location.pathname + location.search);
      if (!rows.length) replace(tableWrap, spinner());
    }
    let r;
    try {
      r = await api('incidents', { query: { ...apiQuery(), offset: append ? next : '' }, signal: ctl.signal });
    } catch (e) {
      if (e.name === 'AbortError' || !alive) return;
      replace(tableWrap, errorBox(e.missing ? new Error('Incidents are not available on this server.') : e));
      return;
    }
    if (!alive) return;
    const got = r.incidents || [];
    if (!append) {
      rows = [];
      cursor = got.length ? 0 : -1;
    }
    const seen = new Set(rows.map((x) => x.id));
    for (const inc of got) if (!seen.has(inc.id)) rows.push(inc);
    if (!append) {
      const last = rows.findIndex((x) => x.id === sessionStorage.getItem('mamori.incidents.last'));
      if (last >= 0) cursor = last;
      head = signature(r);
    }
    total = r.total;
    next = r.next || 0;
    draw();
  }

  const signature = (r) => `${r.total}|${((r.incidents || [])[0] || {}).id || ''}|${((r.incidents || [])[0] || {}).last_seen || ''}`;

  const cols = [
    { cls: 'lvl', head: 'Severity', td: (x) => levelBadge(x.severity) },
    { cls: 'st', head: 'Status', td: (x) => statusBadge(x.status) },
    { cls: 'title', head: 'Incident', td: (x) => [h('a.alert-link', { href: `/ui/incidents/${encodeURIComponent(x.id)}`, onclick: () => remember(x.id) }, x.title),
      h('div.sub', entitySummary(x), campaignBadge(x))] },
    national ? { cls: 'org', head: 'Organisation', td: (x) => h('span.sector', h('span.dot', { style: { background: sectorColour(x.sector) }, title: sectorLabel(x.sector) }), x.org || x.org_id) } : null,
    { cls: 'stages', head: 'Kill chain', td: (x) => stageStrip(x.stages) },
    { cls: 'attack', head: 'ATT&CK', td: (x) => [(x.techniques || []).slice(0, 2).map((t) => h('span.tech', { title: techniqueName(t) }, t)),
      (x.techniques || []).length > 2 ? h('span.note', `+${x.techniques.length - 2}`) : null] },
    { cls: 'num', head: 'Alerts', td: (x) => num(x.alert_count ?? (x.alert_ids || []).length) },
    { cls: 'age', head: 'Age', td: (x) => h('span', { title: `first seen ${time(x.first_seen)}` }, age(x.first_seen)) },
    { cls: 'time', head: 'Last seen', td: (x) => shortTime(x.last_seen) },
    { cls: 'asg', head: 'Assignee', td: (x) => x.assignee || '—' },
  ].filter(Boolean);

  function entitySummary(x) {
    const e = x.entities || {};
    const parts = [(e.host || [])[0], (e.user || [])[0], (e.src_ip || [])[0]].filter(Boolean);
    const n = ['host', 'user', 'src_ip'].reduce((s, k) => s + (e[k] || []).length, 0);
    return h('span.ents', parts.join(' · '), n > parts.length ? ` +${n - parts.length}` : '');
  }

  function rowEl(x, i) {
    const tr = h('tr', { dataset: { id: x.id, i: String(i) }, class: [i === cursor ? 'cursor' : '', matches(x) ? '' : 'stale'].join(' '),
      onclick: (e) => { if (!e.target.closest('a,input,button')) setCursor(i); }, ondblclick: () => open(x.id) },
    cols.map((c) => h('td', { class: c.cls }, c.td(x))));
    byId.set(x.id, { inc: x, tr });
    return tr;
  }

  function draw() {
    byId.clear();
    const tbody = h('tbody', rows.map(rowEl));
    if (!rows.length) tbody.append(h('tr.empty-row', h('td', { colspan: cols.length }, emptyText())));
    replace(tableWrap, h('table.grid.queue.incidents', h('thead', h('tr', cols.map((c) => h('th', { class: c.cls, scope: 'col' }, c.head)))), tbody));
    replace(count, `${num(total)} incident${total === 1 ? '' : 's'}`, rows.length < total ? ` · ${num(rows.length)} shown` : '');
    replace(more, next ? h('button#i-more', { type: 'button', onclick: () => load(true) }, `Load ${PAGE} more`) : '');
    drawHint();
    const cur = rows[cursor] && byId.get(rows[cursor].id);
    if (cur && cursor > 0) cur.tr.scrollIntoView({ block: 'center' });
  }

  function emptyText() {
    const filtered = ['q', 'severity', 'sector', 'org', 'assignee', 'campaign', 'since', 'until'].some((k) => q.get(k));
    if (filtered) return 'No incident matches these filters.';
    if (!q.has('status')) return 'No open incidents. Alerts of medium severity and above are grouped into incidents as they arrive.';
    return 'No incidents.';
  }

  function drawHint() {
    replace(hint, rows.length && cursor >= 0 && can.triage ? ['Keys: ', h('kbd', 'j'), '/', h('kbd', 'k'), ' move, ', h('kbd', 'Enter'), ' open, ',
      h('kbd', 'a'), ' acknowledge, ', h('kbd', 'm'), ' assign to me, ', h('kbd', 'c'), ' close the highlighted incident'] : '');
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
  }

  const remember = (id) => sessionStorage.setItem('mamori.incidents.last', id);
  function open(id) {
    remember(id);
    ctx.navigate(`/ui/incidents/${encodeURIComponent(id)}`);
  }

  async function act(action) {
    const x = rows[cursor];
    if (!can.triage || !x) return;
    const results = await triage.run(action, [x.id], me, 'incident');
    if (!results || !alive) return;
    for (const r of results) {
      const e = byId.get(r.id);
      if (!r.ok || !e) continue;
      const changed = r.item && r.item.id ? r.item : { ...e.inc, ...r.change };
      rows[rows.indexOf(e.inc)] = changed;
      e.tr.replaceWith(rowEl(changed, Number(e.tr.dataset.i)));
    }
  }

  // matches tells whether a changed incident still fits the filters (a
  // row that no longer does is dimmed until the next load).
  function matches(x) {
    const st = statuses();
    if (!st.includes('all') && !st.includes(x.status)) return false;
    const sv = list('severity');
    if (sv.length && !sv.includes(x.severity)) return false;
    if (q.get('assignee') && (x.assignee || '') !== (q.get('assignee') === '-' ? '' : q.get('assignee'))) return false;
    return true;
  }

  // New alerts may open or grow incidents: look (at most every 15 s)
  // whether the first page changed, and offer to refresh.
  const look = throttle(async () => {
    if (!alive || !head) return;
    try {
      const r = await api('incidents', { query: { ...apiQuery(), limit: 1 } });
      if (alive && signature(r) !== head) liveBtn.hidden = false;
    } catch {
      /* the next alert tries again */
    }
  }, 15_000);
  const unsub = stream.subscribe((a) => {
    if (alive && a.level !== 'low' && a.level !== 'informational') look();
  });

  ctx.keys({
    j: () => setCursor(cursor + 1),
    k: () => setCursor(cursor - 1),
    ArrowDown: () => setCursor(cursor + 1),
    ArrowUp: () => setCursor(cursor - 1),
    Enter: () => rows[cursor] && open(rows[cursor].id),
    o: () => rows[cursor] && open(rows[cursor].id),
    '/': () => text.focus(),
    a: () => act('acknowledge'),
    s: () => act('start'),
    m: () => act('assign'),
    c: () => act('close'),
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
