// One organisation: its figures, its alerts of the last day by level, its
// top rules and techniques, and its open alerts.

import { h, replace, num, ago, time, timeEl, levelBadge, statusBadge, clock, empty, LEVELS } from '../lib/dom.js';
import { api, pages } from '../lib/api.js';
import { Chart, buckets, HOUR, sectorColour, sectorLabel } from '../lib/charts.js';
import { techniqueName } from '../lib/attack.js';
import { orgStats } from '../lib/stats.js';
import { panel, table, errorBox, spinner } from '../lib/ui.js';

const LEVEL_COLOURS = { critical: '#ef4444', high: '#f97316', medium: '#eab308', low: '#3b82f6', informational: '#64748b' };

export function mount(ctx) {
  const id = ctx.params.id;
  let alive = true;
  let chart = null;
  ctx.title('Organisation');
  replace(ctx.root, spinner());

  async function load() {
    try {
      const [stats, recent, open] = await Promise.all([
        orgStats(),
        pages('alerts', { org: id, since: '24h', limit: 1000, events: 'false', status: 'new,acknowledged,in_progress,closed' }, 'alerts', 3000),
        api('alerts', { query: { org: id, status: 'new,acknowledged,in_progress', limit: 15, events: 'false' } }),
      ]);
      if (!alive) return;
      const o = (stats.orgs || []).find((x) => x.id === id);
      if (!o) return notFound();
      draw(o, recent.items, open, stats.estimated);
    } catch (e) {
      if (alive) replace(ctx.root, errorBox(e));
    }
  }

  function notFound() {
    ctx.title('Organisation not found');
    replace(ctx.root, h('div.notfound#org-notfound', h('h1', 'Organisation not found'), h('p', 'There is no organisation ', h('code', id), ' among those you may see.'), h('a', { href: '/ui/orgs' }, '← Organisations')));
  }

  function draw(o, alerts, open, estimated) {
    ctx.title(o.name);
    const chartEl = h('div.chart#org-chart');
    const rules = count(alerts, (a) => [a.rule_id]);
    const titles = new Map(alerts.map((a) => [a.rule_id, a.rule_title]));
    const techs = count(alerts, (a) => a.techniques || []);
    replace(ctx.root,
      h('div.page-head', h('div', h('a.back', { href: '/ui/orgs' }, '← Organisations'),
        h('h1#org-name', o.name, o.silent ? h('span.badge.silent', 'silent') : null),
        h('p.alert-meta', h('span.sector', h('span.dot', { style: { background: sectorColour(o.sector) } }), sectorLabel(o.sector)), ' · ', h('code', o.id))),
      h('div.page-tools', h('a.button', { href: `/ui/alerts?org=${encodeURIComponent(o.id)}` }, 'Alert queue'), ' ',
        h('a.button', { href: `/ui/search?org=${encodeURIComponent(o.id)}` }, 'Search its events'))),
      h('div.kpis',
        kpi('Alerts 24 h', num(o.alerts_24h)),
        kpi('Critical 24 h', num(o.critical_24h), o.critical_24h ? 'alarm' : ''),
        kpi('Open', num(o.open)),
        kpi('Events 24 h', o.events_24h == null ? '—' : num(o.events_24h)),
        kpi('Last event', o.last_event ? ago(o.last_event) : estimated ? '—' : 'never', o.silent ? 'alarm' : '', o.last_event ? time(o.last_event) : '')),
      h('div.org-grid',
        panel('Alerts per hour, last 24 h, by level', chartEl, { cls: 'p-org-chart' }),
        panel('Top rules, 24 h', list(rules, (k) => h('a', { href: `/ui/alerts?org=${encodeURIComponent(o.id)}&since=24h&status=all&rule_id=${encodeURIComponent(k)}` }, titles.get(k) || k))),
        panel('Techniques, 24 h', list(techs, (k) => h('a', { href: `/ui/alerts?org=${encodeURIComponent(o.id)}&technique=${encodeURIComponent(k)}&since=24h&status=all`, title: techniqueName(k) }, k, ' ', h('span.note', techniqueName(k))))),
        panel(`Open alerts (${num(open.total)})`, table([
          { label: 'Level', render: (a) => levelBadge(a.level) },
          { label: 'Alert', render: (a) => h('a', { href: `/ui/alerts/${encodeURIComponent(a.id)}` }, a.rule_title) },
          { label: 'Host', render: (a) => a.host || '—' },
          { label: 'Status', render: (a) => statusBadge(a.status) },
          { label: 'Last seen', render: (a) => timeEl(a.last_seen) },
        ], open.alerts || [], { emptyText: 'No open alerts.', cls: 'compact' }), { cls: 'p-org-open' })));
    if (chart) chart.dispose();
    chart = new Chart(chartEl);
    const hs = buckets(24, HOUR);
    const t0 = hs[0].getTime();
    const series = LEVELS.map((l) => ({ name: l, type: 'bar', stack: 'all', barMaxWidth: 24, itemStyle: { color: LEVEL_COLOURS[l] }, data: new Array(24).fill(0) }));
    for (const a of alerts) {
      const i = Math.floor((new Date(a.first_seen).getTime() - t0) / HOUR);
      const s = series[LEVELS.indexOf(a.level)];
      if (s && i >= 0 && i < 24) s.data[i]++;
    }
    chart.set({ xAxis: { type: 'category', data: hs.map((t) => clock(t).slice(0, 5)) }, yAxis: { type: 'value' }, series: series.filter((s) => s.data.some(Boolean)) });
  }

  load();
  const timer = setInterval(load, 60_000);
  return {
    destroy() {
      alive = false;
      clearInterval(timer);
      if (chart) chart.dispose();
    },
  };
}

function kpi(label, value, cls = '', title = '') {
  return h('div.kpi', { class: cls, title }, h('div.kpi-label', label), h('div.kpi-value', value));
}

function count(alerts, keys) {
  const m = new Map();
  for (const a of alerts) for (const k of keys(a)) m.set(k, (m.get(k) || 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
}

function list(entries, link) {
  if (!entries.length) return empty('Nothing in the last 24 h.');
  const max = entries[0][1];
  return h('ul.bars', entries.map(([k, n]) => h('li', h('span.bar-label', link(k)),
    h('span.bar-track', h('span.bar-fill', { style: { width: `${(100 * n) / max}%` } })), h('span.bar-value', num(n)))));
}
