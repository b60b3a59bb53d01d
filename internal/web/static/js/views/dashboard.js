// The situation screen (home, and the wall screen with ?wall=1): national
// totals, attacks per hour and per day by sector, a live ticker of high and
// critical alerts, ATT&CK techniques of the last day, the sources, the
// organisations and the sectors most hit. Live: the stream feeds the ticker
// and triggers a (throttled) refresh of the figures; nothing reloads.

import { h, replace, num, delta, clock, levelBadge, throttle, empty, LEVELS } from '../lib/dom.js';
import { api, stream } from '../lib/api.js';
import { Chart, stackedBySector, buckets, HOUR, DAY, sectorColour, sectorLabel } from '../lib/charts.js';
import { TACTICS, techniqueName, tacticLabel } from '../lib/attack.js';
import { dashboard } from '../lib/stats.js';
import { panel, table, pivot, errorBox } from '../lib/ui.js';
import { gradeBadge, gradeOf, scoreText, trendEl, ratings, ratingsProblem, notYet, RETRY_MS } from '../lib/rating.js';

const TICKER_MAX = 40;

export function mount(ctx) {
  ctx.title('Situation');
  const national = !ctx.me.org_id;
  const wall = ctx.query.get('wall') === '1';
  document.body.classList.toggle('wall', wall);

  // The security rating tile has its own refresh: ratings change slowly.
  const ratingTile = h('div.kpi.rating-kpi#kpi-rating', h('div.kpi-label', national ? 'Security rating' : 'Your security rating'), h('div.kpi-value', '—'));
  const kpis = h('div.kpis.k7#kpis', kpiSkeleton(), ratingTile);
  const hourEl = h('div.chart#chart-hour');
  const dayEl = h('div.chart#chart-day');
  const ticker = h('ol.ticker#ticker', { 'aria-label': 'New high and critical alerts' });
  const heat = h('div.heatmap#heatmap');
  const sources = h('div#top-sources');
  const orgsEl = h('div#top-orgs');
  const sectorsEl = h('div#top-sectors');
  const note = h('span.note#dash-note');
  const updated = h('span.note#dash-updated');

  replace(ctx.root,
    h('div.page-head', h('h1', national ? 'National situation' : `Situation of ${ctx.me.org_id}`), h('div.page-tools', note, updated,
      h('a.button.ghost', { href: wall ? '/ui/' : '/ui/?wall=1', title: 'Wall-screen layout' }, wall ? 'Leave wall mode' : 'Wall mode'))),
    h('div.dash', kpis,
      panel('Attacks per hour, last 24 h, by sector', hourEl, { cls: 'p-hour' }),
      panel('Live: new high and critical alerts', ticker, { cls: 'p-ticker', extra: h('a', { href: '/ui/alerts?level=high,critical&status=new' }, 'queue') }),
      panel('Attacks per day, last 14 days, by sector', dayEl, { cls: 'p-day' }),
      panel('ATT&CK techniques seen in the last 24 h', heat, { cls: 'p-heat' }),
      panel('Top attacking sources', sources, { cls: 'p-sources' }),
      panel('Most-hit organisations', orgsEl, { cls: 'p-orgs' }),
      panel('Most-hit sectors', sectorsEl, { cls: 'p-sectors' })));

  const hourChart = new Chart(hourEl);
  const dayChart = new Chart(dayEl);
  const hours = () => buckets(24, HOUR);
  const days = () => buckets(14, DAY);
  hourChart.on('click', (p) => {
    const t = hours()[p.dataIndex].getTime();
    ctx.navigate(`/ui/alerts?since=${new Date(t).toISOString()}&until=${new Date(t + HOUR).toISOString()}&sector=${p.seriesId}`);
  });
  dayChart.on('click', (p) => {
    const t = days()[p.dataIndex].getTime();
    ctx.navigate(`/ui/alerts?since=${new Date(t).toISOString()}&until=${new Date(t + DAY).toISOString()}&sector=${p.seriesId}`);
  });

  let ctl = new AbortController();
  let alive = true;
  async function load() {
    ctl.abort();
    ctl = new AbortController();
    try {
      const d = await dashboard(ctl.signal);
      if (!alive) return;
      draw(d);
    } catch (e) {
      if (e.name === 'AbortError' || !alive) return;
      replace(note, errorBox(e));
    }
  }

  const ratingCtl = new AbortController();
  async function loadRating() {
    try {
      const r = await ratings(ratingCtl.signal);
      if (alive) replace(ratingTile, ...ratingKpi(r, ctx.me));
    } catch (e) {
      if (e.name === 'AbortError' || !alive) return;
      replace(ratingTile, h('div.kpi-label', 'Security rating'), h('div.kpi-value', '—'), h('div.kpi-sub', { title: ratingsProblem(e) }, e.missing ? 'not available' : 'not computed yet'));
      if (notYet(e)) setTimeout(loadRating, RETRY_MS);
    }
  }

  function draw(d) {
    replace(kpis, kpiTiles(d), ratingTile);
    const hs = hours();
    hourChart.set(stackedBySector(d.per_hour || [], hs, HOUR, (t) => clock(t).slice(0, 5)));
    const ds = days();
    dayChart.set(stackedBySector(d.per_day || [], ds, DAY, (t) => t.toLocaleDateString(undefined, { day: 'numeric', month: 'short', timeZone: 'UTC' })));
    replace(heat, heatmap(d.techniques || []));
    replace(sources, table([
      { label: 'Source', render: (s) => pivot(s.ip, null, '24h') },
      // Country and AS come from IP enrichment when GeoIP databases are configured.
      { label: 'Country · AS', render: (s) => [s.country, s.asn ? `AS${s.asn}${s.as_org ? ' ' + s.as_org : ''}` : ''].filter(Boolean).join(' · ') || '—' },
      { label: 'Alerts', cls: 'num', render: (s) => num(s.count) },
      { label: 'Orgs hit', cls: 'num', render: (s) => num(typeof s.orgs === 'number' ? s.orgs : (s.orgs || []).length) },
      { label: 'Sectors', render: (s) => sectorDots(s.sectors || []) },
    ], (d.top_sources || []).slice(0, 10), { emptyText: 'No source addresses in the last 24 h.', cls: 'compact' }));
    replace(orgsEl, table([
      { label: 'Organisation', render: (o) => h('a', { href: `/ui/orgs/${encodeURIComponent(o.org_id)}` }, o.org || o.org_id) },
      { label: 'Sector', render: (o) => sectorTag(o.sector) },
      { label: 'Alerts', cls: 'num', render: (o) => h('a', { href: `/ui/alerts?org=${encodeURIComponent(o.org_id)}&since=24h` }, num(o.count)) },
      { label: 'Crit.', cls: 'num', render: (o) => (o.critical ? h('span.lv-text-critical', num(o.critical)) : '0') },
      { label: 'High', cls: 'num', render: (o) => num(o.high || 0) },
    ], (d.top_orgs || []).slice(0, 10), { emptyText: 'No alerts in the last 24 h.', cls: 'compact' }));
    const maxSector = Math.max(1, ...(d.top_sectors || []).map((s) => s.count));
    replace(sectorsEl, (d.top_sectors || []).length ? h('ul.bars', (d.top_sectors || []).map((s) =>
      h('li', h('a', { href: `/ui/alerts?sector=${s.sector}&since=24h` }, h('span.bar-label', sectorLabel(s.sector)),
        h('span.bar-track', h('span.bar-fill', { style: { width: `${(100 * s.count) / maxSector}%`, background: sectorColour(s.sector) } })),
        h('span.bar-value', num(s.count)), h('span.bar-sub', `${num(s.orgs)} org${s.orgs === 1 ? '' : 's'}`))))) : empty('No alerts in the last 24 h.'));
    replace(note, d.estimated ? h('span', { title: 'This server has no /api/v1/dashboard yet: figures are computed in the browser from the alert list' + (d.truncated ? ' (latest 3,000 alerts only)' : '') + '.' }, 'estimated from the alert list') : '');
    replace(updated, 'updated ' + clock(d.generated || Date.now()));
  }

  // The ticker: filled from the list, then from the stream.
  const shown = new Map();
  function tick(a, fresh) {
    if (a.level !== 'high' && a.level !== 'critical') return;
    const old = shown.get(a.id);
    // The stream also brings triage changes: only new alerts and new hits
    // of a shown one come to the top.
    if (fresh && !old && a.status && a.status !== 'new') return;
    if (fresh && old && old.dataset.last === a.last_seen) return;
    if (old) old.remove();
    const li = h('li', { class: fresh ? 'fresh' : '', dataset: { id: a.id, last: a.last_seen } },
      h('a', { href: `/ui/alerts/${encodeURIComponent(a.id)}` },
        h('time', { datetime: a.last_seen }, clock(a.last_seen)),
        levelBadge(a.level),
        h('span.t-title', a.rule_title),
        h('span.t-org', h('span.dot', { style: { background: sectorColour(a.sector) } }), a.org || a.org_id),
        h('span.t-host', a.host || a.src_ip || '')));
    shown.set(a.id, li);
    ticker.prepend(li);
    while (ticker.children.length > TICKER_MAX) {
      const last = ticker.lastElementChild;
      shown.delete(last.dataset.id);
      last.remove();
    }
  }
  api('alerts', { query: { level: 'high,critical', limit: TICKER_MAX, events: 'false' } })
    .then((r) => {
      if (!alive) return;
      for (const a of (r.alerts || []).slice().reverse()) tick(a, false);
      if (!ticker.children.length) ticker.append(h('li.empty', 'Nothing yet.'));
    })
    .catch(() => {});

  const refresh = throttle(load, 15_000);
  const unsub = stream.subscribe((a) => {
    if (!alive) return;
    const e = ticker.querySelector('li.empty');
    if (e) e.remove();
    tick(a, true);
    refresh();
  });
  const timer = setInterval(load, 60_000);
  const ratingTimer = setInterval(loadRating, 5 * 60_000);
  load();
  loadRating();

  return {
    update(q) {
      if ((q.get('wall') === '1') !== wall) {
        // Layout change: mount again.
        this.destroy();
        Object.assign(this, mount({ ...ctx, query: q }));
      }
    },
    destroy() {
      alive = false;
      ctl.abort();
      unsub();
      clearInterval(timer);
      clearInterval(ratingTimer);
      ratingCtl.abort();
      hourChart.dispose();
      dayChart.dispose();
      document.body.classList.remove('wall');
    },
  };
}

function kpiSkeleton() {
  return ['Alerts today', 'Yesterday', 'Same day last week', 'Open', 'Critical open', 'Last 24 h by level'].map((t) =>
    h('div.kpi', h('div.kpi-label', t), h('div.kpi-value', '—')));
}

function kpiTiles(d) {
  const t = d.totals || {};
  const lv = d.by_level || {};
  const lvTotal = LEVELS.reduce((s, l) => s + (lv[l] || 0), 0) || 1;
  return [
    h('div.kpi.main', h('div.kpi-label', 'Alerts today'), h('div.kpi-value#kpi-today', num(t.today))),
    h('div.kpi', h('div.kpi-label', 'vs yesterday'), h('div.kpi-value', num(t.yesterday)), h('div.kpi-sub', delta(t.today, t.yesterday))),
    h('div.kpi', h('div.kpi-label', 'vs same day last week'), h('div.kpi-value', num(t.same_day_last_week)), h('div.kpi-sub', delta(t.today, t.same_day_last_week))),
    h('div.kpi', h('div.kpi-label', 'Open'), h('div.kpi-value', h('a', { href: '/ui/alerts?status=new,acknowledged,in_progress' }, num(t.open)))),
    h('div.kpi', { class: t.critical_open ? 'alarm' : '' }, h('div.kpi-label', 'Critical open'),
      h('div.kpi-value', h('a', { href: '/ui/alerts?status=new,acknowledged,in_progress&level=critical' }, num(t.critical_open)))),
    h('div.kpi.levels', h('div.kpi-label', 'Last 24 h by level'),
      h('div.levelbar', LEVELS.filter((l) => lv[l]).map((l) => h('a', { href: `/ui/alerts?level=${l}&since=24h`, class: `lv-bg-${l}`, style: { flexGrow: String(lv[l] / lvTotal) }, title: `${l}: ${num(lv[l])}` }, num(lv[l])))),
      h('div.kpi-sub', LEVELS.filter((l) => lv[l]).map((l) => h('span', { class: `lv-text-${l}` }, `${l} ${num(lv[l])} `)))),
  ];
}

// ratingKpi is the security rating tile: the national grade and score with
// the weakest sectors, or (organisation roles) the own organisation's with
// its sector's average.
function ratingKpi(r, me) {
  if (r.national) {
    const n = r.national;
    const weak = (r.sectors || []).slice().sort((a, b) => a.score - b.score).slice(0, 3);
    return [h('div.kpi-label', 'Security rating'),
      h('div.kpi-value', h('a', { href: '/ui/ratings', title: 'National security rating' }, gradeBadge(n.grade || gradeOf(n.score)), ' ', scoreText(n.score)), ' ', h('span.kpi-trend', trendEl(n.trend))),
      h('div.kpi-sub', { title: weak.map((s) => `${sectorLabel(s.sector)} ${scoreText(s.score)} (${s.grade || gradeOf(s.score)})`).join(', ') }, weak.length ? ['weakest: ', weak.map((s, i) => [i ? ' · ' : '', h('a', { href: `/ui/ratings/sector/${encodeURIComponent(s.sector)}`, class: `g-text-${s.grade || gradeOf(s.score)}` }, `${sectorLabel(s.sector)} ${scoreText(s.score)}`)])] : 'no sector rated')];
  }
  const own = (r.orgs || []).find((o) => o.org === me.org_id) || (r.orgs || [])[0];
  if (!own) return [h('div.kpi-label', 'Your security rating'), h('div.kpi-value', '—'), h('div.kpi-sub', 'not rated yet')];
  const sec = (r.sectors || []).find((s) => s.sector === own.sector);
  return [h('div.kpi-label', 'Your security rating'),
    h('div.kpi-value', h('a', { href: `/ui/ratings/org/${encodeURIComponent(own.org)}`, title: 'Your report card' }, gradeBadge(own.grade || gradeOf(own.score)), ' ', scoreText(own.score)), ' ', h('span.kpi-trend', trendEl(own.trend))),
    h('div.kpi-sub', sec ? `sector average ${scoreText(sec.score)} (${sec.grade || gradeOf(sec.score)})` : '')];
}

function sectorTag(s) {
  return h('span.sector', h('span.dot', { style: { background: sectorColour(s) } }), sectorLabel(s));
}

function sectorDots(list) {
  return h('span.sector-dots', list.map((s) => h('span.dot', { style: { background: sectorColour(s) }, title: sectorLabel(s) })));
}

// heatmap lays out techniques under their tactics (kill-chain order),
// each cell coloured by its count (square-root scale).
function heatmap(rows) {
  if (!rows.length) return empty('No techniques seen in the last 24 h.');
  const by = new Map();
  for (const r of rows) {
    const k = r.tactic || '';
    if (!by.has(k)) by.set(k, new Map());
    const m = by.get(k);
    m.set(r.technique, (m.get(r.technique) || 0) + r.count);
  }
  const order = TACTICS.map(([k]) => k).filter((k) => by.has(k));
  for (const k of by.keys()) if (!order.includes(k)) order.push(k);
  const max = Math.max(...rows.map((r) => r.count));
  const scale = (c) => Math.sqrt(c / max);
  return h('div.heat-cols', { style: { gridTemplateColumns: `repeat(${order.length}, minmax(8.5em, 1fr))` } }, order.map((tactic) => {
    const techs = [...by.get(tactic).entries()].sort((a, b) => b[1] - a[1]);
    return h('div.heat-col', h('div.heat-tactic', { title: tactic }, tactic ? tacticLabel(tactic) : 'Unmapped'),
      techs.map(([tech, count]) => h('a.heat-cell', {
        class: scale(count) > 0.6 ? 'hot' : '',
        href: `/ui/alerts?technique=${encodeURIComponent(tech)}&since=24h`,
        style: { '--h': scale(count).toFixed(3) },
        title: `${tech} ${techniqueName(tech)}: ${count} alert${count === 1 ? '' : 's'}`,
      }, h('span.heat-id', tech), h('span.heat-name', techniqueName(tech)), h('span.heat-count', num(count)))));
  }));
}
