// Campaigns: incidents of several organisations linked by shared
// indicators (the same source address, file hash, domain or rule). National
// roles see every organisation and sector hit; an organisation's role sees
// only that its own incidents belong to a campaign, with its own indicators.

import { h, replace, num, debounce, $$ } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { sectorColour, sectorLabel } from '../lib/charts.js';
import { techniqueName } from '../lib/attack.js';
import { errorBox, spinner } from '../lib/ui.js';
import { indicatorSummary, duration, shortTime } from '../lib/incident.js';

const RANGES = [['', 'Any time'], ['24h', 'Last 24 h'], ['168h', 'Last 7 days'], ['720h', 'Last 30 days']];
const SORTS = [['last_seen', 'Latest activity'], ['first_seen', 'Newest'], ['orgs', 'Most organisations'], ['incidents', 'Most incidents']];

export function mount(ctx) {
  ctx.title('Campaigns');
  const national = !ctx.me.org_id;
  let q = ctx.query;
  let all = null;
  let rows = [];
  let cursor = -1;
  let alive = true;
  let ctl = new AbortController();

  const text = h('input#c-q', { type: 'search', placeholder: national ? 'Filter by indicator, organisation, sector, technique  ( / )' : 'Filter by indicator  ( / )', 'aria-label': 'Filter campaigns', value: q.get('q') || '' });
  text.addEventListener('input', debounce(() => ctx.setQuery({ q: text.value.trim() }, { replace: true }), 250));
  const rangeSel = h('select#c-range', { 'aria-label': 'Time range', onchange: (e) => ctx.setQuery({ since: e.target.value }) }, RANGES.map(([v, t]) => h('option', { value: v }, t)));
  const sortSel = h('select#c-sort', { 'aria-label': 'Sort', onchange: (e) => ctx.setQuery({ sort: e.target.value === 'last_seen' ? '' : e.target.value }) },
    SORTS.filter(([v]) => national || v !== 'orgs').map(([v, t]) => h('option', { value: v }, t)));
  const count = h('span.count#c-count');
  const tableWrap = h('div.table-wrap#c-table', spinner());

  replace(ctx.root,
    h('div.page-head', h('h1', 'Campaigns'), h('div.page-tools', count)),
    h('p.note.page-intro', national
      ? 'A campaign links incidents of different organisations that share an indicator: a source address, a network, a file hash, a domain or a rule. New campaigns form as alerts arrive.'
      : 'A campaign is an attack seen across several organisations. You see the incidents of your organisation that belong to one, with the indicators seen in them.'),
    h('div.filters', h('div.filter-row', text, rangeSel, sortSel)),
    tableWrap);

  async function load() {
    ctl.abort();
    ctl = new AbortController();
    try {
      const r = await api('campaigns', { query: { since: q.get('since') || '', limit: 1000 }, signal: ctl.signal });
      if (!alive) return;
      all = r.campaigns || [];
      draw();
    } catch (e) {
      if (e.name === 'AbortError' || !alive) return;
      replace(tableWrap, errorBox(e.missing ? new Error('Campaigns are not available on this server.') : e));
    }
  }

  function sync() {
    if (document.activeElement !== text) text.value = q.get('q') || '';
    rangeSel.value = q.get('since') || '';
    sortSel.value = q.get('sort') || 'last_seen';
  }

  function filtered() {
    const needle = (q.get('q') || '').toLowerCase();
    let out = all.filter((c) => !needle || [c.id, ...(c.indicators || []).map((i) => i.value), ...(c.orgs || []).flatMap((o) => [o.name, o.id]),
      ...(c.sectors || []), ...(c.techniques || [])].some((v) => v && String(v).toLowerCase().includes(needle)));
    const sort = q.get('sort') || 'last_seen';
    const val = (c) => (sort === 'orgs' ? (c.orgs || []).length : sort === 'incidents' ? (c.incident_ids || []).length : c[sort] || '');
    out = out.slice().sort((a, b) => {
      const x = val(a);
      const y = val(b);
      return x < y ? 1 : x > y ? -1 : String(b.last_seen).localeCompare(String(a.last_seen));
    });
    return out;
  }

  const cols = national ? [
    { cls: 'title', head: 'Campaign', td: (c) => [h('a.alert-link.mono', { href: `/ui/campaigns/${encodeURIComponent(c.id)}` }, c.id), h('div.sub', `${num((c.incident_ids || []).length)} incidents`)] },
    { cls: 'num', head: 'Orgs', td: (c) => h('strong', num((c.orgs || []).length)) },
    { cls: 'sectors', head: 'Sectors', td: (c) => sectorList(c.sectors || []) },
    { cls: 'inds', head: 'Indicators', td: (c) => indicatorCell(c) },
    { cls: 'attack', head: 'ATT&CK', td: (c) => techCell(c.techniques || []) },
    { cls: 'time', head: 'First seen', td: (c) => shortTime(c.first_seen) },
    { cls: 'time', head: 'Last seen', td: (c) => [shortTime(c.last_seen), h('div.sub', `spans ${duration(c.first_seen, c.last_seen)}`)] },
  ] : [
    { cls: 'title', head: 'Campaign', td: (c) => [h('a.alert-link.mono', { href: `/ui/campaigns/${encodeURIComponent(c.id)}` }, c.id), h('div.sub', 'seen across organisations')] },
    { cls: 'num', head: 'Your incidents', td: (c) => h('a', { href: `/ui/incidents?campaign=${encodeURIComponent(c.id)}&status=all` }, num((c.incident_ids || []).length)) },
    { cls: 'inds', head: 'Your indicators', td: (c) => indicatorCell(c) },
    { cls: 'time', head: 'First seen', td: (c) => shortTime(c.first_seen) },
    { cls: 'time', head: 'Last seen', td: (c) => shortTime(c.last_seen) },
  ];

  function draw() {
    rows = filtered();
    cursor = rows.length ? Math.max(0, rows.findIndex((c) => c.id === sessionStorage.getItem('mamori.campaigns.last'))) : -1;
    const tbody = h('tbody', rows.map((c, i) => h('tr', { dataset: { id: c.id, i: String(i) }, class: i === cursor ? 'cursor' : '',
      onclick: (e) => { if (!e.target.closest('a,button')) setCursor(i); }, ondblclick: () => open(c.id) },
    cols.map((col) => h('td', { class: col.cls }, col.td(c))))));
    if (!rows.length) {
      tbody.append(h('tr.empty-row', h('td', { colspan: cols.length }, all.length ? 'No campaign matches this filter.'
        : national ? 'No campaigns yet: one forms when incidents of two or more organisations share an indicator.'
          : 'None of your incidents belongs to a campaign.')));
    }
    replace(tableWrap, h('table.grid.queue.campaigns', h('thead', h('tr', cols.map((c) => h('th', { class: c.cls, scope: 'col' }, c.head)))), tbody));
    replace(count, `${num(all.length)} campaign${all.length === 1 ? '' : 's'}`, rows.length < all.length ? ` · ${num(rows.length)} shown` : '');
  }

  function setCursor(i) {
    if (!rows.length) return;
    cursor = Math.max(0, Math.min(rows.length - 1, i));
    $$('tbody tr[data-id]', tableWrap).forEach((tr) => tr.classList.toggle('cursor', Number(tr.dataset.i) === cursor));
    const tr = $$(`tbody tr[data-i="${cursor}"]`, tableWrap)[0];
    if (tr) tr.scrollIntoView({ block: 'nearest' });
  }

  function open(id) {
    sessionStorage.setItem('mamori.campaigns.last', id);
    ctx.navigate(`/ui/campaigns/${encodeURIComponent(id)}`);
  }

  ctx.keys({
    j: () => setCursor(cursor + 1),
    k: () => setCursor(cursor - 1),
    ArrowDown: () => setCursor(cursor + 1),
    ArrowUp: () => setCursor(cursor - 1),
    Enter: () => rows[cursor] && open(rows[cursor].id),
    o: () => rows[cursor] && open(rows[cursor].id),
    '/': () => text.focus(),
    r: () => load(),
  });

  sync();
  load();
  const timer = setInterval(load, 60_000);
  return {
    update(nq) {
      const reload = (nq.get('since') || '') !== (q.get('since') || '');
      q = nq;
      sync();
      if (reload) load();
      else if (all) draw();
    },
    destroy() {
      alive = false;
      ctl.abort();
      clearInterval(timer);
    },
  };
}

function sectorList(list) {
  if (!list.length) return '—';
  return h('span.sector-list', { title: list.map(sectorLabel).join(', ') }, list.slice(0, 3).map((s) => h('span.sector', h('span.dot', { style: { background: sectorColour(s) } }), sectorLabel(s), ' ')),
    list.length > 3 ? h('span.note', `+${list.length - 3}`) : null);
}

function indicatorCell(c) {
  const list = c.indicators || [];
  if (!list.length) return '—';
  return [h('div', indicatorSummary(list)), h('div.sub.mono', { title: list.map((i) => i.value).join('\n') }, list.slice(0, 2).map((i) => i.value).join(', '), list.length > 2 ? ', …' : '')];
}

function techCell(list) {
  return [list.slice(0, 3).map((t) => h('span.tech', { title: techniqueName(t) }, t)), list.length > 3 ? h('span.note', `+${list.length - 3}`) : null];
}
