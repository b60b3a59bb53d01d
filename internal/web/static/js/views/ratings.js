// Security ratings, the national board: the national score and grade, the
// sectors ranked by score with their spread (lowest to highest
// organisation), every organisation's rating, and the trends of the last
// 30 days. An organisation's role lands on its own report card instead.

import { h, replace, num, clock, empty, debounce } from '../lib/dom.js';
import { Chart, SECTORS, sectorColour, sectorLabel } from '../lib/charts.js';
import { panel, errorBox, spinner, dialog } from '../lib/ui.js';
import { GRADES, GRADE_COLOURS, GRADE_FLOORS, gradeBadge, gradeOf, scoreText, trendEl, trendLine, trendDelta, factorLabel, ratings, historyOf, historyOption, historyNote, ratingsProblem, notYet, RETRY_MS } from '../lib/rating.js';

export function mount(ctx) {
  const me = ctx.me;
  if (me.org_id) {
    // After this mount returns: the router records it first, then moves on.
    queueMicrotask(() => ctx.navigate(`/ui/ratings/org/${encodeURIComponent(me.org_id)}`, { replace: true }));
    return {};
  }
  ctx.title('Security ratings');
  let q = ctx.query;
  let data = null;
  let alive = true;
  let chart = null;
  let retry = 0;
  const ctl = new AbortController();

  const note = h('span.note#r-at');
  const nationalEl = h('div.r-national#r-national', spinner());
  const trendsEl = h('div.chart#r-trends');
  const trendsNote = h('span.note#r-trends-note');
  const sectorsEl = h('div#r-sectors');
  const sortBtn = h('button.link#r-sort', { type: 'button', onclick: () => ctx.setQuery({ sort: q.get('sort') === 'best' ? '' : 'best' }) });
  const filter = h('input#r-q', { type: 'search', placeholder: 'Filter organisations  ( / )', 'aria-label': 'Filter organisations', value: q.get('q') || '' });
  filter.addEventListener('input', debounce(() => ctx.setQuery({ q: filter.value.trim() }, { replace: true }), 250));
  const sectorSel = h('select#r-sector', { 'aria-label': 'Sector', onchange: () => ctx.setQuery({ sector: sectorSel.value }) },
    h('option', { value: '' }, 'All sectors'), SECTORS.map((s) => h('option', { value: s }, sectorLabel(s))));
  const gradeBox = h('span.chips#r-grades');
  const orgsEl = h('div#r-orgs');

  replace(ctx.root,
    h('div.page-head', h('h1', 'Security ratings'), h('div.page-tools', note,
      h('button.ghost#r-how', { type: 'button', title: 'How ratings are computed', onclick: () => explainRatings() }, 'How it works'))),
    h('div.ratings-top',
      panel('National', nationalEl, { cls: 'p-r-national' }),
      panel('Trends, last 30 days', trendsEl, { cls: 'p-r-trends', extra: trendsNote })),
    panel('Sectors', sectorsEl, { cls: 'p-r-sectors', id: 'r-sectors-panel', extra: sortBtn }),
    panel('Organisations', h('div', h('div.filters', h('div.filter-row', filter, sectorSel, gradeBox)), orgsEl), { cls: 'p-r-orgs', id: 'r-orgs-panel' }));

  async function load() {
    try {
      data = await ratings(ctl.signal);
      if (!alive) return;
      draw();
    } catch (e) {
      if (e.name === 'AbortError' || !alive) return;
      if (notYet(e)) retry = setTimeout(load, RETRY_MS);
      replace(nationalEl, errorBox(new Error(ratingsProblem(e))));
      replace(sectorsEl, '');
      replace(orgsEl, '');
      return;
    }
    try {
      const series = await historyOf([{ national: 1 }, ...(data.sectors || []).map((s) => ({ sector: s.sector }))], 30, ctl.signal);
      if (!alive) return;
      if (!chart) chart = new Chart(trendsEl);
      chart.set(historyOption(series, { emphasise: 'national' }));
      replace(trendsNote, historyNote(series));
    } catch (e) {
      if (e.name !== 'AbortError' && alive) replace(trendsNote, 'history not available');
    }
  }

  function draw() {
    replace(note, data.at ? `as of ${clock(data.at)}` : '');
    const n = data.national;
    const names = new Map((data.orgs || []).map((o) => [o.org, o.name]));
    replace(nationalEl, n ? h('div.r-national-body',
      h('div.r-big', gradeBadge(n.grade || gradeOf(n.score), { big: true }),
        h('div', h('div.r-score#r-national-score', scoreText(n.score), h('span.r-of', ' / 100')), h('div', trendLine(n.trend)))),
      h('dl.kvs',
        h('div.kv', h('dt', 'Rated'), h('dd', `${num(n.orgs)} organisations`)),
        h('div.kv', h('dt', 'Spread'), h('dd', `${scoreText(n.min)} – ${scoreText(n.max)}`, n.stddev != null ? h('span.note', ` · σ ${scoreText(n.stddev)}`) : null)),
        n.grades ? h('div.kv', h('dt', 'Grades'), h('dd', gradeBar(n.grades))) : null,
        (n.weakest || []).length ? h('div.kv', h('dt', 'Weakest'), h('dd', n.weakest.map((id, i) => [i ? ', ' : '', h('a', { href: `/ui/ratings/org/${encodeURIComponent(id)}` }, names.get(id) || id)]))) : null))
      : empty('No national figure for your role.'));
    drawSectors();
    drawOrgs();
  }

  function drawSectors() {
    const best = q.get('sort') === 'best';
    replace(sortBtn, best ? 'Best first ▾' : 'Weakest first ▴');
    sortBtn.title = best ? 'Show the weakest sectors first' : 'Show the best sectors first';
    const list = (data.sectors || []).slice().sort((a, b) => (a.score - b.score) * (best ? -1 : 1));
    if (!list.length) return replace(sectorsEl, empty('No sector is rated yet.'));
    replace(sectorsEl, h('ol.rating-rows', list.map((s) => h('li', { dataset: { sector: s.sector, grade: s.grade || gradeOf(s.score) } },
      h('a', { href: `/ui/ratings/sector/${encodeURIComponent(s.sector)}` },
        h('span.rr-name', h('span.dot', { style: { background: sectorColour(s.sector) } }), sectorLabel(s.sector)),
        gradeBadge(s.grade || gradeOf(s.score)),
        h('span.rr-score', scoreText(s.score)),
        spreadBar(s),
        h('span.rr-orgs', `${num(s.orgs)} org${s.orgs === 1 ? '' : 's'}`),
        h('span.rr-sd', { title: 'Standard deviation of the organisations\' scores' }, s.stddev != null ? `σ ${scoreText(s.stddev)}` : ''),
        h('span.rr-trend', trendEl(s.trend)))))));
  }

  function drawOrgs() {
    const needle = (q.get('q') || '').toLowerCase();
    const grades = (q.get('grade') || '').split(',').filter(Boolean);
    if (document.activeElement !== filter) filter.value = q.get('q') || '';
    sectorSel.value = q.get('sector') || '';
    replace(gradeBox, GRADES.map((g) => h('button.chip', { type: 'button', 'aria-pressed': String(grades.includes(g)), dataset: { grade: g },
      onclick: () => ctx.setQuery({ grade: (grades.includes(g) ? grades.filter((x) => x !== g) : [...grades, g]).join(',') }) }, gradeBadge(g), ` ${countGrade(g)}`)));
    const sort = q.get('osort') || 'score';
    const dir = sort.startsWith('-') ? -1 : 1;
    const key = sort.replace(/^-/, '');
    const val = (o) => (key === 'trend' ? trendDelta(o.trend) ?? 0 : key === 'name' ? o.name : o.score);
    const rows = (data.orgs || []).filter((o) => (!needle || (o.name || '').toLowerCase().includes(needle) || String(o.org).includes(needle)) &&
      (!q.get('sector') || o.sector === q.get('sector')) && (!grades.length || grades.includes(o.grade || gradeOf(o.score))))
      .sort((a, b) => {
        const x = val(a);
        const y = val(b);
        return (x < y ? -1 : x > y ? 1 : String(a.name).localeCompare(String(b.name))) * dir;
      });
    const th = (k, text, cls = '') => h('th', { scope: 'col', class: cls, 'aria-sort': key === k ? (dir > 0 ? 'ascending' : 'descending') : null },
      h('a', { href: '#', onclick: (e) => { e.preventDefault(); ctx.setQuery({ osort: key === k && dir > 0 ? '-' + k : k === 'score' ? '' : k }, { replace: true }); } }, text, key === k ? (dir > 0 ? ' ▴' : ' ▾') : ''));
    replace(orgsEl, rows.length ? h('table.grid.compact.rating-orgs', h('thead', h('tr', th('name', 'Organisation'), h('th', { scope: 'col' }, 'Sector'), th('score', 'Score', 'num'),
      h('th', { scope: 'col' }, 'Grade'), th('trend', 'Trend (7 d)'), h('th', { scope: 'col' }, 'Largest deduction'))),
    h('tbody', rows.map((o) => {
      const top = (o.deductions || [])[0];
      return h('tr', { dataset: { org: o.org } },
        h('td', h('a', { href: `/ui/ratings/org/${encodeURIComponent(o.org)}` }, o.name || o.org)),
        h('td', h('span.sector', h('span.dot', { style: { background: sectorColour(o.sector) } }), sectorLabel(o.sector))),
        h('td.num', h('strong', scoreText(o.score))),
        h('td', gradeBadge(o.grade || gradeOf(o.score))),
        h('td', trendEl(o.trend)),
        h('td.reason', top ? [h('span.pts', `−${scoreText(top.points)}`), ' ', h('span.note', factorLabel(top.factor) + ': '), top.reason] : h('span.note', 'none')));
    }))) : empty((data.orgs || []).length ? 'No organisation matches.' : 'No organisation is rated yet.'));
  }

  const countGrade = (g) => (data.orgs || []).filter((o) => (o.grade || gradeOf(o.score)) === g).length;

  ctx.keys({ '/': () => filter.focus(), r: () => load() });
  load();
  const timer = setInterval(load, 5 * 60_000);
  return {
    update(nq) {
      q = nq;
      if (data) {
        drawSectors();
        drawOrgs();
      }
    },
    destroy() {
      alive = false;
      ctl.abort();
      clearInterval(timer);
      clearTimeout(retry);
      if (chart) chart.dispose();
    },
  };
}

// spreadBar draws a score on a 0-100 track in its grade's colour, with a
// whisker from the lowest to the highest organisation's score.
export function spreadBar(s) {
  const g = s.grade || gradeOf(s.score);
  const lo = s.min ?? s.score;
  const hi = s.max ?? s.score;
  return h('span.spread', { title: `score ${scoreText(s.score)}, organisations from ${scoreText(lo)} to ${scoreText(hi)}` },
    h('span.spread-fill', { style: { width: `${Math.max(0, Math.min(100, s.score))}%`, background: GRADE_COLOURS[g] || 'var(--fg-muted)' } }),
    h('span.spread-whisker', { style: { left: `${lo}%`, width: `${Math.max(0.4, hi - lo)}%` } }),
    [60, 70, 80, 90].map((t) => h('span.spread-tick', { style: { left: `${t}%` } })));
}

// gradeBar shows how many organisations have each grade.
export function gradeBar(grades) {
  const total = GRADES.reduce((s, g) => s + (grades[g] || 0), 0) || 1;
  return h('span.grade-bar', GRADES.filter((g) => grades[g]).map((g) => h('span', { class: `g-${g}`, style: { flexGrow: String(grades[g] / total) }, title: `${g}: ${grades[g]}` }, `${g} ${grades[g]}`)));
}

// explainRatings says in a dialog how a score is made.
export function explainRatings() {
  dialog({ title: 'How security ratings work', body: [
    h('p', 'Every organisation starts from 100 points. Points are taken off for what the platform sees: open incidents (by severity and age), slow response to incidents, detections per 100 assets, hygiene findings, threat-intelligence matches and gaps in telemetry.'),
    h('p.grade-legend', GRADES.map((g) => h('span', gradeBadge(g), ` ${g === 'F' ? 'below 60' : `${GRADE_FLOORS[g]} and above`}`))),
    h('p', 'A sector\'s score and the national score are the average of their organisations\' scores; the spread runs from the lowest to the highest. The trend is the change over the last 7 days: up is better.')],
  buttons: [{ label: 'Done', value: true, primary: true }] });
}
