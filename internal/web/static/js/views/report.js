// The printable security rating report of an organisation
// (ratings/org/:id/report) or a sector (ratings/sector/:sector/report): one
// A4 sheet in print colours whatever the theme, which the browser prints or
// saves as PDF (the navigation and the buttons are not printed).

import { h, replace, num, time, empty } from '../lib/dom.js';
import { Chart, sectorLabel } from '../lib/charts.js';
import { errorBox, spinner } from '../lib/ui.js';
import { GRADES, GRADE_FLOORS, gradeBadge, gradeOf, scoreText, trendDelta, factorLabel, ratings, historyOf, historyOption, historyNote, ratingsProblem, notYet, RETRY_MS } from '../lib/rating.js';
import { deductions, factorStack, factorTable, compare } from './scorecard.js';
import { gradeBar, spreadBar } from './ratings.js';

export function mount(ctx) {
  const orgID = ctx.params.id;
  const sector = ctx.params.sector;
  const national = !ctx.me.org_id;
  let alive = true;
  let chart = null;
  const ctl = new AbortController();
  let retry = 0;
  const back = orgID ? `/ui/ratings/org/${encodeURIComponent(orgID)}` : `/ui/ratings/sector/${encodeURIComponent(sector)}`;
  ctx.title('Rating report');
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
    const o = orgID ? (data.orgs || []).find((x) => x.org === orgID) : null;
    const s = (data.sectors || []).find((x) => x.sector === (o ? o.sector : sector));
    if ((orgID && !o) || (!orgID && !s)) {
      replace(ctx.root, h('div.notfound#report-notfound', h('h1', 'No rating'), h('p', 'There is no rating for ', h('code', orgID || sector), ' among those you may see.'), h('a', { href: '/ui/ratings' }, '← Ratings')));
      return;
    }
    const chartEl = h('div.chart.sheet-chart#report-chart');
    const chartNote = h('p.note.sheet-caption');
    const subject = o ? o.name || o.org : `${sectorLabel(sector)} sector`;
    ctx.title(`${subject} · rating report`);
    replace(ctx.root, h('div.report-page',
      h('div.report-tools.no-print',
        h('a.back', { href: back }, orgID ? '← Report card' : '← Sector'),
        h('span.note', 'One A4 page. Choose “Save as PDF” as the printer to keep a PDF.'),
        h('button.primary#print', { type: 'button', onclick: () => window.print() }, 'Print / Save as PDF')),
      h('article.sheet#report', { dataset: { kind: orgID ? 'org' : 'sector' } },
        h('header.sheet-head',
          h('div.sheet-brand', h('img', { src: document.querySelector('link[rel=icon]').href, alt: '' }), 'Mamori'),
          h('div.sheet-title', h('div.sheet-kind', 'Security rating report'), h('h1#report-subject', subject),
            h('div.note', o ? [sectorLabel(o.sector), ' sector · ', h('code', o.org)] : `${num(s.orgs)} organisation${s.orgs === 1 ? '' : 's'} rated`)),
          h('div.sheet-date', h('div', 'Rating as of'), h('strong', time((o && o.at) || data.at)), h('div.note', `printed ${time(new Date())}`))),
        o ? orgSummary(o, s, data) : sectorSummary(s, data),
        o ? [
          h('section.sheet-section', h('h2', 'What lowered the score'), deductions(o)),
          h('section.sheet-section', h('h2', 'Factors'), factorTable(o)),
        ] : sectorOrgs(s, data),
        h('section.sheet-section.sheet-history', h('h2', 'Score over the last 30 days'), chartEl, chartNote),
        h('footer.sheet-foot',
          h('p', 'How to read this report. Every organisation starts from 100 points; points are taken off for open incidents (by severity and age), slow response, detections per 100 assets, hygiene findings, threat-intelligence matches and gaps in telemetry. ',
            'Grades: ', GRADES.map((g) => `${g} ${g === 'F' ? 'below 60' : `from ${GRADE_FLOORS[g]}`}`).join(', '), '. The trend is the change over the last 7 days; up is better.'),
          h('p', `Produced by Mamori for ${ctx.me.user || 'the national CSIRT'}. Figures are those of the rating named above; the platform recomputes ratings regularly.`)))));
    const subjects = o ? [{ org: o.org }, { sector: o.sector }, ...(national ? [{ national: 1 }] : [])] : [{ sector }, ...(national ? [{ national: 1 }] : [])];
    const series = await historyOf(subjects, 30, ctl.signal).catch(() => []);
    if (!alive) return;
    chart = new Chart(chartEl);
    chart.set(historyOption(series, { paper: true, emphasise: o ? `org:${o.org}` : `sector:${sector}` }));
    replace(chartNote, historyNote(series));
    ctx.root.querySelector('#report').dataset.ready = 'true';
  }

  function orgSummary(o, s, data) {
    const d = trendDelta(o.trend);
    return h('section.sheet-summary',
      h('div.sheet-grade', gradeBadge(o.grade || gradeOf(o.score), { big: true }),
        h('div', h('div.r-score#report-score', scoreText(o.score), h('span.r-of', ' / 100')),
          h('div.sheet-trend', d == null ? 'No 7-day trend yet.' : `${d > 0 ? '▲ up' : d < 0 ? '▼ down' : '▶ unchanged,'} ${d ? Math.abs(d).toFixed(1) + ' points' : ''} over 7 days`))),
      h('dl.kvs',
        s ? h('div.kv', h('dt', 'Sector average'), h('dd', gradeBadge(s.grade || gradeOf(s.score)), ' ', scoreText(s.score), ' ', compare(o.score, s.score))) : null,
        data.national ? h('div.kv', h('dt', 'National average'), h('dd', gradeBadge(data.national.grade || gradeOf(data.national.score)), ' ', scoreText(data.national.score), ' ', compare(o.score, data.national.score))) : null,
        h('div.kv', h('dt', 'Deductions'), h('dd', `${num((o.deductions || []).length)}, ${scoreText((o.deductions || []).reduce((t, x) => t + x.points, 0))} points in all`))),
      factorStack(o));
  }

  function sectorSummary(s, data) {
    const d = trendDelta(s.trend);
    return h('section.sheet-summary',
      h('div.sheet-grade', gradeBadge(s.grade || gradeOf(s.score), { big: true }),
        h('div', h('div.r-score#report-score', scoreText(s.score), h('span.r-of', ' / 100')),
          h('div.sheet-trend', d == null ? 'No 7-day trend yet.' : `${d > 0 ? '▲ up' : d < 0 ? '▼ down' : '▶ unchanged,'} ${d ? Math.abs(d).toFixed(1) + ' points' : ''} over 7 days`))),
      h('dl.kvs',
        h('div.kv', h('dt', 'Spread'), h('dd', spreadBar(s), h('div.note', `lowest ${scoreText(s.min)}, highest ${scoreText(s.max)}`, s.stddev != null ? `, σ ${scoreText(s.stddev)}` : ''))),
        s.grades ? h('div.kv', h('dt', 'Grades'), h('dd', gradeBar(s.grades))) : null,
        data.national ? h('div.kv', h('dt', 'National average'), h('dd', gradeBadge(data.national.grade || gradeOf(data.national.score)), ' ', scoreText(data.national.score), ' ', compare(s.score, data.national.score))) : null));
  }

  function sectorOrgs(s, data) {
    const orgs = (data.orgs || []).filter((x) => x.sector === s.sector).sort((a, b) => a.score - b.score);
    if (!national) return null;
    return h('section.sheet-section', h('h2', 'Organisations, weakest first'), orgs.length ? h('table.grid.compact#report-orgs',
      h('thead', h('tr', h('th', 'Organisation'), h('th.num', 'Score'), h('th', 'Grade'), h('th.num', '7 days'), h('th', 'Largest deduction'))),
      h('tbody', orgs.map((o) => {
        const top = (o.deductions || [])[0];
        const d = trendDelta(o.trend);
        return h('tr', h('td', o.name || o.org), h('td.num', scoreText(o.score)), h('td', gradeBadge(o.grade || gradeOf(o.score))),
          h('td.num', d == null ? '—' : `${d > 0 ? '+' : d < 0 ? '−' : '±'}${Math.abs(d).toFixed(1)}`),
          h('td.reason', top ? `−${scoreText(top.points)} ${factorLabel(top.factor)}: ${top.reason}` : 'none'));
      }))) : empty('No organisation rated.'));
  }

  load();
  ctx.keys({ p: () => window.print(), u: () => ctx.navigate(back), Backspace: () => ctx.navigate(back) });
  return {
    destroy() {
      alive = false;
      ctl.abort();
      clearTimeout(retry);
      if (chart) chart.dispose();
    },
  };
}
