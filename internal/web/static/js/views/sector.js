// One sector's security rating: its score, grade and spread, how its
// organisations' grades are distributed, its history against the nation,
// and its organisations with their score, grade and trend. An
// organisation's role sees the sector's aggregate and its own organisation.

import { h, replace, num, clock, empty } from '../lib/dom.js';
import { Chart, sectorColour, sectorLabel } from '../lib/charts.js';
import { panel, errorBox, spinner } from '../lib/ui.js';
import { gradeBadge, gradeOf, scoreText, trendEl, trendLine, factorLabel, ratings, historyOf, historyOption, historyNote, ratingsProblem, notYet, RETRY_MS } from '../lib/rating.js';
import { spreadBar, gradeBar } from './ratings.js';

export function mount(ctx) {
  const sector = ctx.params.sector;
  const national = !ctx.me.org_id;
  let alive = true;
  let chart = null;
  const ctl = new AbortController();
  let retry = 0;
  ctx.title(`${sectorLabel(sector)} · ratings`);
  replace(ctx.root, spinner());

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
    const s = (data.sectors || []).find((x) => x.sector === sector);
    if (!s) {
      replace(ctx.root, h('div.notfound#sector-notfound', h('h1', 'Sector not rated'),
        h('p', 'There is no rating for the sector ', h('code', sector), ' among those you may see.'),
        h('a', { href: '/ui/ratings' }, '← Ratings')));
      return;
    }
    const orgs = (data.orgs || []).filter((o) => o.sector === sector).sort((a, b) => a.score - b.score);
    const chartEl = h('div.chart#sector-history');
    const chartNote = h('span.note');
    replace(ctx.root,
      h('div.page-head.alert-head',
        h('div', national ? h('a.back', { href: '/ui/ratings' }, '← Ratings') : null,
          h('h1#sector-title', h('span.dot', { style: { background: sectorColour(sector) } }), sectorLabel(sector), ' sector'),
          h('p.alert-meta', data.at ? `Rating as of ${clock(data.at)}` : '')),
        h('div.page-tools', h('a.button#sector-report', { href: `/ui/ratings/sector/${encodeURIComponent(sector)}/report` }, 'Printable report'))),
      h('div.scorecard',
        h('section.panel.rc-card#sector-card', h('div.panel-body',
          h('div.r-big', gradeBadge(s.grade || gradeOf(s.score), { big: true }),
            h('div', h('div.r-score#sector-score', scoreText(s.score), h('span.r-of', ' / 100')), h('div', trendLine(s.trend)))),
          h('dl.kvs',
            h('div.kv', h('dt', 'Rated'), h('dd', `${num(s.orgs)} organisation${s.orgs === 1 ? '' : 's'}`)),
            h('div.kv', h('dt', 'Spread'), h('dd', spreadBar(s), h('div.note', `${scoreText(s.min)} – ${scoreText(s.max)}`, s.stddev != null ? ` · σ ${scoreText(s.stddev)}` : ''))),
            s.grades ? h('div.kv', h('dt', 'Grades'), h('dd', gradeBar(s.grades))) : null,
            data.national ? h('div.kv', h('dt', 'National'), h('dd', gradeBadge(data.national.grade || gradeOf(data.national.score)), ' ', scoreText(data.national.score))) : null))),
        panel('History, last 30 days', chartEl, { cls: 'rc-history', extra: chartNote })),
      panel(national ? `Organisations (${num(orgs.length)})` : 'Your organisation', orgs.length ? h('table.grid.compact.rating-orgs#sector-orgs',
        h('thead', h('tr', ['Organisation', 'Score', 'Grade', 'Trend (7 d)', 'Largest deduction'].map((t, i) => h('th', { scope: 'col', class: i === 1 ? 'num' : '' }, t)))),
        h('tbody', orgs.map((o) => {
          const top = (o.deductions || [])[0];
          return h('tr', { dataset: { org: o.org } },
            h('td', h('a', { href: `/ui/ratings/org/${encodeURIComponent(o.org)}` }, o.name || o.org)),
            h('td.num', h('strong', scoreText(o.score))),
            h('td', gradeBadge(o.grade || gradeOf(o.score))),
            h('td', trendEl(o.trend)),
            h('td.reason', top ? [h('span.pts', `−${scoreText(top.points)}`), ' ', h('span.note', factorLabel(top.factor) + ': '), top.reason] : h('span.note', 'none')));
        }))) : empty('No organisation of this sector is rated.'), { cls: 'p-sector-orgs' }));
    const series = await historyOf([{ sector }, ...(national ? [{ national: 1 }] : orgs.map((o) => ({ org: o.org })))], 30, ctl.signal).catch(() => []);
    if (!alive) return;
    chart = new Chart(chartEl);
    chart.set(historyOption(series, { emphasise: `sector:${sector}` }));
    replace(chartNote, historyNote(series));
  }

  load();
  return {
    destroy() {
      alive = false;
      ctl.abort();
      clearTimeout(retry);
      if (chart) chart.dispose();
    },
  };
}
