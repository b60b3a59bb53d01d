// Organisations and sectors: alert load and data freshness, with the
// organisations whose sources went silent highlighted.

import { h, replace, num, ago, time, empty } from '../lib/dom.js';
import { SECTORS, sectorColour, sectorLabel } from '../lib/charts.js';
import { orgStats } from '../lib/stats.js';
import { errorBox, spinner, panel } from '../lib/ui.js';

const COLS = [
  ['name', 'Organisation'], ['sector', 'Sector'], ['alerts_24h', 'Alerts 24 h'], ['critical_24h', 'Critical 24 h'],
  ['open', 'Open'], ['events_24h', 'Events 24 h'], ['last_event', 'Last event'],
];

export function mount(ctx) {
  ctx.title('Organisations');
  let q = ctx.query;
  let data = null;
  let alive = true;
  const filter = h('input#o-q', { type: 'search', placeholder: 'Filter by name  ( / )', 'aria-label': 'Filter organisations', value: q.get('q') || '' });
  filter.addEventListener('input', () => ctx.setQuery({ q: filter.value.trim() }, { replace: true }));
  const sectorSel = h('select#o-sector', { 'aria-label': 'Sector', onchange: () => ctx.setQuery({ sector: sectorSel.value }) },
    h('option', { value: '' }, 'All sectors'), SECTORS.map((s) => h('option', { value: s }, sectorLabel(s))));
  const silentOnly = h('input#o-silent', { type: 'checkbox', onchange: () => ctx.setQuery({ silent: silentOnly.checked ? '1' : '' }) });
  const sectors = h('div.sector-cards#o-sectors');
  const list = h('div.table-wrap#o-list', spinner());
  const note = h('span.note');
  replace(ctx.root,
    h('div.page-head', h('h1', 'Organisations and sectors'), h('div.page-tools', note)),
    panel('Sectors, last 24 h', sectors, { cls: 'p-sectors-cards' }),
    h('div.filters', h('div.filter-row', filter, sectorSel, h('label.inline', silentOnly, ' silent sources only'))),
    list);

  async function load() {
    try {
      data = await orgStats();
      if (alive) draw();
    } catch (e) {
      if (alive) replace(list, errorBox(e));
    }
  }

  function draw() {
    filter.value = document.activeElement === filter ? filter.value : q.get('q') || '';
    sectorSel.value = q.get('sector') || '';
    silentOnly.checked = q.get('silent') === '1';
    const orgs = data.orgs || [];
    replace(note, data.estimated ? 'Alert counts estimated from the alert list; data freshness not available on this server.' : '');
    // Sector cards.
    const bySector = new Map();
    for (const o of orgs) {
      const s = bySector.get(o.sector) || { sector: o.sector, orgs: 0, alerts: 0, critical: 0, silent: 0 };
      s.orgs++;
      s.alerts += o.alerts_24h || 0;
      s.critical += o.critical_24h || 0;
      if (o.silent) s.silent++;
      bySector.set(o.sector, s);
    }
    replace(sectors, [...bySector.values()].sort((a, b) => b.alerts - a.alerts).map((s) =>
      h('a.sector-card', { href: `/ui/orgs?sector=${s.sector}`, class: q.get('sector') === s.sector ? 'on' : '', style: { borderTopColor: sectorColour(s.sector) } },
        h('div.sc-name', sectorLabel(s.sector)), h('div.sc-value', num(s.alerts)),
        h('div.sc-sub', `${s.orgs} org${s.orgs === 1 ? '' : 's'}`, s.critical ? h('span.lv-text-critical', ` · ${num(s.critical)} critical`) : '', s.silent ? h('span.silent-text', ` · ${s.silent} silent`) : ''))));
    // Table.
    const needle = (q.get('q') || '').toLowerCase();
    let rows = orgs.filter((o) => (!needle || o.name.toLowerCase().includes(needle) || o.id.includes(needle)) &&
      (!q.get('sector') || o.sector === q.get('sector')) && (q.get('silent') !== '1' || o.silent));
    const sort = q.get('sort') || '-alerts_24h';
    const key = sort.replace(/^-/, '');
    const dir = sort.startsWith('-') ? -1 : 1;
    rows = rows.slice().sort((a, b) => {
      const x = a[key] ?? '';
      const y = b[key] ?? '';
      return (x < y ? -1 : x > y ? 1 : a.name.localeCompare(b.name)) * dir;
    });
    const th = ([k, label]) => h('th', { scope: 'col', class: ['name', 'sector', 'last_event'].includes(k) ? '' : 'num', 'aria-sort': key === k ? (dir < 0 ? 'descending' : 'ascending') : null },
      h('a', { href: `/ui/orgs?${withSort(q, key === k && dir < 0 ? k : '-' + k)}` }, label, key === k ? (dir < 0 ? ' ▾' : ' ▴') : ''));
    replace(list, rows.length ? h('table.grid.orgs', h('thead', h('tr', COLS.map(th))), h('tbody', rows.map((o) =>
      h('tr', { class: o.silent ? 'silent' : '', dataset: { org: o.id } },
        h('td', h('a', { href: `/ui/orgs/${encodeURIComponent(o.id)}` }, o.name), o.silent ? h('span.badge.silent', { title: 'No events received recently' }, 'silent') : null),
        h('td', h('span.sector', h('span.dot', { style: { background: sectorColour(o.sector) } }), sectorLabel(o.sector))),
        h('td.num', h('a', { href: `/ui/alerts?org=${encodeURIComponent(o.id)}&since=24h&status=all` }, num(o.alerts_24h))),
        h('td.num', o.critical_24h ? h('a.lv-text-critical', { href: `/ui/alerts?org=${encodeURIComponent(o.id)}&since=24h&level=critical&status=all` }, num(o.critical_24h)) : '0'),
        h('td.num', num(o.open)),
        h('td.num', o.events_24h == null ? '—' : num(o.events_24h)),
        h('td', o.last_event ? h('span', { title: time(o.last_event) }, ago(o.last_event)) : o.events_24h == null && data.estimated ? '—' : 'never')))))
      : empty('No organisation matches.'));
  }

  ctx.keys({ '/': () => filter.focus() });
  const timer = setInterval(load, 60_000);
  load();
  return {
    update(nq) {
      q = nq;
      if (data) draw();
    },
    destroy() {
      alive = false;
      clearInterval(timer);
    },
  };
}

function withSort(q, sort) {
  const u = new URLSearchParams(q);
  if (sort === '-alerts_24h') u.delete('sort');
  else u.set('sort', sort);
  return u.toString();
}
