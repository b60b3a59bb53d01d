// An organisation's security report card: its score and grade with the
// 7-day trend, the sector average (and the national one, for national
// roles) to compare, every deduction with its reason, how each factor
// fared, and the score's history against the sector's.

import { h, replace, num, clock, empty } from '../lib/dom.js';
import { Chart, sectorColour, sectorLabel } from '../lib/charts.js';
import { panel, errorBox, spinner } from '../lib/ui.js';
import { GRADE_COLOURS, gradeBadge, gradeOf, scoreText, trendLine, factorLabel, FACTORS, ratings, historyOf, historyOption, historyNote, ratingsProblem, notYet, RETRY_MS } from '../lib/rating.js';
import { explainRatings } from './ratings.js';

const FACTOR_COLOURS = { incidents: '#ef4444', response: '#f97316', detections: '#eab308', hygiene: '#a78bfa', intel: '#38bdf8', telemetry: '#64748b' };
export const factorColour = (f) => FACTOR_COLOURS[f] || '#8a94a6';

export function mount(ctx) {
  const id = ctx.params.id;
  const national = !ctx.me.org_id;
  let alive = true;
  let chart = null;
  let q = ctx.query;
  const ctl = new AbortController();
  let retry = 0;
  ctx.title('Report card');
  replace(ctx.root, spinner());

  let view = null; // {data, o, sector}
  async function load() {
    let data;
    try {
      data = await ratings(ctl.signal);
    } catch (e) {
      if (e.name === 'AbortError' || !alive) return;
      replace(ctx.root, errorBox(new Error(ratingsProblem(e))));
      if (notYet(e)) retry = setTimeout(load, RETRY_MS);
      return;
    }
    if (!alive) return;
    const o = (data.orgs || []).find((x) => x.org === id);
    if (!o) {
      ctx.title('Not rated');
      replace(ctx.root, h('div.notfound#rc-notfound', h('h1', 'No rating'),
        h('p', 'There is no rating for ', h('code', id), ' among the organisations you may see (yet).'),
        h('a', { href: national ? '/ui/ratings' : '/ui/' }, national ? '← Ratings' : '← Situation')));
      return;
    }
    view = { data, o, sector: (data.sectors || []).find((s) => s.sector === o.sector) };
    draw();
  }

  function draw() {
    const { data, o, sector } = view;
    ctx.title(`${o.name || o.org} · report card`);
    const peers = (data.orgs || []).filter((x) => x.sector === o.sector).sort((a, b) => b.score - a.score);
    const rank = peers.findIndex((x) => x.org === o.org) + 1;
    const chartEl = h('div.chart#rc-history');
    const chartNote = h('span.note#rc-history-note');
    const days = Number(q.get('days')) || 30;
    replace(ctx.root,
      h('div.page-head.alert-head',
        h('div', national ? h('a.back', { href: `/ui/ratings/sector/${encodeURIComponent(o.sector)}` }, `← ${sectorLabel(o.sector)} sector`) : null,
          h('h1#rc-name', o.name || o.org),
          h('p.alert-meta', h('span.sector', h('span.dot', { style: { background: sectorColour(o.sector) } }),
            h('a', { href: `/ui/ratings/sector/${encodeURIComponent(o.sector)}` }, sectorLabel(o.sector))), ' · ', h('code', o.org),
          data.at || o.at ? ` · rating as of ${clock(o.at || data.at)}` : '')),
        h('div.page-tools',
          h('a.button', { href: `/ui/incidents?org=${encodeURIComponent(o.org)}` }, 'Open incidents'),
          h('button.ghost', { type: 'button', onclick: explainRatings }, 'How it works'),
          h('a.button.primary#rc-report', { href: `/ui/ratings/org/${encodeURIComponent(o.org)}/report` }, 'Printable report'))),
      h('div.scorecard',
        h('section.panel.rc-card#rc-card', h('div.panel-body',
          h('div.r-big', gradeBadge(o.grade || gradeOf(o.score), { big: true }),
            h('div', h('div.r-score#rc-score', scoreText(o.score), h('span.r-of', ' / 100')), h('div#rc-trend', trendLine(o.trend)))),
          h('dl.kvs#rc-compare',
            sector ? h('div.kv', h('dt', 'Sector average'), h('dd#rc-sector', gradeBadge(sector.grade || gradeOf(sector.score)), ' ', h('strong', scoreText(sector.score)),
              h('span.note', ` ${sectorLabel(o.sector)}, ${num(sector.orgs)} organisation${sector.orgs === 1 ? '' : 's'}`), ' ', compare(o.score, sector.score))) : null,
            national && rank && peers.length > 1 ? h('div.kv', h('dt', 'Rank in sector'), h('dd', `${rank} of ${peers.length}`)) : null,
            data.national ? h('div.kv', h('dt', 'National average'), h('dd', gradeBadge(data.national.grade || gradeOf(data.national.score)), ' ', h('strong', scoreText(data.national.score)), ' ', compare(o.score, data.national.score))) : null),
          factorStack(o))),
        panel(`History, last ${days} days`, chartEl, { cls: 'rc-history', extra: h('span', chartNote, ' ',
          h('a', { href: `?days=${days === 30 ? 90 : 30}`, id: 'rc-days' }, days === 30 ? '90 days' : '30 days')) })),
      h('div.rc-grid',
        panel(`Deductions (${num((o.deductions || []).length)})`, deductions(o), { cls: 'rc-deductions', id: 'rc-deductions-panel' }),
        panel('Factors', factorTable(o), { cls: 'rc-factors', id: 'rc-factors-panel' })));
    historyOf([{ org: o.org }, { sector: o.sector }, ...(national ? [{ national: 1 }] : [])], days, ctl.signal).then((series) => {
      if (!alive) return;
      if (chart) chart.dispose();
      chart = new Chart(chartEl);
      chart.set(historyOption(series, { emphasise: `org:${o.org}` }));
      replace(chartNote, historyNote(series));
    }).catch(() => {});
  }

  load();
  const timer = setInterval(load, 5 * 60_000);
  ctx.keys({ p: () => ctx.navigate(`/ui/ratings/org/${encodeURIComponent(id)}/report`), r: () => load() });
  return {
    update(nq) {
      q = nq;
      if (view) draw();
    },
    destroy() {
      alive = false;
      ctl.abort();
      clearTimeout(retry);
      clearInterval(timer);
      if (chart) chart.dispose();
    },
  };
}

// compare shows a score against a reference: "+4.2 above" or "−3.0 below".
export function compare(score, ref) {
  if (score == null || ref == null) return null;
  const d = Math.round((score - ref) * 10) / 10;
  if (d === 0) return h('span.cmp', 'level with it');
  return h('span.cmp', { class: d > 0 ? 'up' : 'down' }, `${d > 0 ? '+' : '−'}${Math.abs(d).toFixed(1)} ${d > 0 ? 'above' : 'below'}`);
}

// deductions lists what was taken off, largest first, each with its reason.
export function deductions(o) {
  const list = (o.deductions || []).slice().sort((a, b) => b.points - a.points);
  if (!list.length) return empty('No deductions: nothing lowers this score.');
  return h('ol.deductions#rc-deductions', list.map((d) => h('li', { dataset: { factor: d.factor } },
    h('span.pts', `−${scoreText(d.points)}`),
    h('span.ded-factor', h('span.dot', { style: { background: factorColour(d.factor) } }), factorLabel(d.factor)),
    h('span.ded-reason', d.reason))));
}

// factorStack is the 100 points as one bar: what is kept, and what each
// factor took.
export function factorStack(o) {
  const lost = (o.factors || []).filter((f) => f.lost > 0);
  const total = lost.reduce((s, f) => s + f.lost, 0);
  const kept = Math.max(0, 100 - total);
  return h('div.factor-stack-wrap',
    h('div.factor-stack#rc-stack', { role: 'img', 'aria-label': `Score ${scoreText(o.score)} of 100; lost: ${lost.map((f) => `${factorLabel(f.factor)} ${scoreText(f.lost)}`).join(', ') || 'nothing'}` },
      h('span.fs-kept', { style: { flexGrow: String(kept) }, title: `kept ${scoreText(kept)} points` }, kept >= 12 ? `${scoreText(kept)} kept` : ''),
      lost.map((f) => h('span.fs-lost', { style: { flexGrow: String(f.lost), background: factorColour(f.factor) }, title: `${factorLabel(f.factor)}: −${scoreText(f.lost)}` }, f.lost >= 6 ? `−${scoreText(f.lost)}` : ''))),
    h('div.fs-legend', lost.map((f) => h('span', h('span.dot', { style: { background: factorColour(f.factor) } }), `${factorLabel(f.factor)} −${scoreText(f.lost)}`))));
}

// factorTable shows each factor: the points it may take, what it took, and
// how it fared as a share of its weight.
export function factorTable(o) {
  const by = new Map((o.factors || []).map((f) => [f.factor, f]));
  const order = [...FACTORS.map(([k]) => k).filter((k) => by.has(k)), ...[...by.keys()].filter((k) => !FACTORS.some(([x]) => x === k))];
  if (!order.length) return empty('No factor breakdown.');
  return h('table.grid.compact.factors#rc-factors', h('thead', h('tr', h('th', 'Factor'), h('th.num', 'Weight'), h('th.num', 'Lost'), h('th', 'Kept of its weight'))),
    h('tbody', order.map((k) => {
      const f = by.get(k);
      const share = f.weight > 0 ? Math.max(0, Math.min(1, 1 - f.lost / f.weight)) : 1;
      return h('tr', { dataset: { factor: k } },
        h('td', h('span.dot', { style: { background: factorColour(k) } }), factorLabel(k)),
        h('td.num', scoreText(f.weight)),
        h('td.num', f.lost > 0 ? h('strong.lost', `−${scoreText(f.lost)}`) : '0.0'),
        h('td', h('span.factor-bar', h('span', { style: { width: `${100 * share}%`, background: share >= 0.9 ? GRADE_COLOURS.A : share >= 0.7 ? GRADE_COLOURS.C : GRADE_COLOURS.F } })),
          h('span.note', ` ${Math.round(100 * share)} %`)));
    })));
}
