// Investigation search over events: time range, field filters and free text
// (all in the URL), a histogram over time, and a results table whose
// columns the analyst picks. Every value is a pivot: a new search for that
// value across every organisation the user may see.

import { h, replace, num, time, clock, debounce, empty } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { Chart } from '../lib/charts.js';
import { errorBox, spinner, searchURL } from '../lib/ui.js';

const PAGE = 100;
const RANGES = [['15m', 'Last 15 min'], ['1h', 'Last hour'], ['6h', 'Last 6 h'], ['24h', 'Last 24 h'], ['168h', 'Last 7 days'], ['720h', 'Last 30 days'], ['', 'Any time'], ['custom', 'Custom…']];
// Built-in columns (the event envelope); field columns are field names.
const BUILTIN = {
  '@time': { label: 'Time', value: (e) => e.timestamp, render: (e) => h('time', { datetime: e.timestamp, title: 'received ' + time(e.received) }, time(e.timestamp)) },
  '@org': { label: 'Organisation', value: (e) => e.org || e.org_id },
  '@host': { label: 'Host', value: (e) => e.host, field: 'host' },
  '@source': { label: 'Source', value: (e) => e.source },
  '@channel': { label: 'Channel', value: (e) => e.channel, field: 'channel' },
  '@event_id': { label: 'Event id', value: (e) => e.event_id, field: 'event_id' },
  '@summary': { label: 'Fields', value: () => '' },
};
const DEFAULT_COLS = ['@time', '@org', '@host', '@channel', '@summary'];

export function mount(ctx) {
  ctx.title('Investigate');
  const national = !ctx.me.org_id;
  let q = ctx.query;
  let events = [];
  let next = '';
  let total = 0;
  let ctl = new AbortController();
  let alive = true;
  const known = new Set(); // field names seen in the results

  const text = h('input#s-q', { type: 'search', placeholder: 'Free text: any value anywhere in the event  ( / )', 'aria-label': 'Free text', value: q.get('q') || '' });
  const rangeSel = h('select#s-range', { 'aria-label': 'Time range', onchange: () => {
    if (rangeSel.value === 'custom') {
      custom.hidden = false;
      return sinceIn.focus();
    }
    ctx.setQuery({ since: rangeSel.value || 'all', until: '' });
  } }, RANGES.map(([v, t]) => h('option', { value: v }, t)));
  const sinceIn = h('input#s-since', { type: 'datetime-local', 'aria-label': 'From' });
  const untilIn = h('input#s-until', { type: 'datetime-local', 'aria-label': 'Until' });
  const onCustom = () => ctx.setQuery({ since: sinceIn.value ? new Date(sinceIn.value).toISOString() : 'all', until: untilIn.value ? new Date(untilIn.value).toISOString() : '' });
  sinceIn.addEventListener('change', onCustom);
  untilIn.addEventListener('change', onCustom);
  const custom = h('span.custom-range', sinceIn, '→', untilIn);
  const orgSel = h('select#s-org', { 'aria-label': 'Organisation', onchange: () => ctx.setQuery({ org: orgSel.value }) }, h('option', { value: '' }, 'All organisations'));
  const fName = h('input#s-fname', { placeholder: 'Field', 'aria-label': 'Field name', list: 's-fields', size: 14 });
  const fValue = h('input#s-fvalue', { placeholder: 'equals value', 'aria-label': 'Field value', size: 18 });
  const fieldList = h('datalist#s-fields');
  const chips = h('div.chips#s-filters');
  const histEl = h('div.chart.hist#s-hist');
  const histNote = h('span.note#s-hist-note');
  const count = h('span.count#s-count');
  const pickerBtn = h('button#s-columns', { type: 'button', 'aria-haspopup': 'true', 'aria-expanded': 'false', onclick: () => togglePicker() }, 'Columns ▾');
  const picker = h('div.picker#s-picker', { hidden: true });
  const results = h('div.table-wrap#s-results');
  const more = h('div.more');

  const form = h('form.filters.search-form', { onsubmit: (ev) => {
    ev.preventDefault();
    const changes = { q: text.value.trim() };
    if (fName.value.trim() && fValue.value !== '') {
      changes.field = [...q.getAll('field'), `${fName.value.trim()}:${fValue.value}`];
      fName.value = '';
      fValue.value = '';
    }
    ctx.setQuery(changes);
  } },
  h('div.filter-row', text, rangeSel, custom, national ? orgSel : null, h('button.primary#s-go', { type: 'submit' }, 'Search')),
  h('div.filter-row', h('span.label', 'Field filter'), fName, h('span', '='), fValue, fieldList, h('button', { type: 'submit' }, 'Add'), chips));

  replace(ctx.root,
    h('div.page-head', h('h1', 'Investigate'), h('div.page-tools', h('span.note', national ? 'Searches every organisation you may see.' : 'Searches your organisation.'))),
    form,
    h('section.panel.p-hist', h('header', h('h2', 'Events over time'), h('div.panel-extra', histNote)), h('div.panel-body', histEl)),
    h('div.results-bar', count, h('div.picker-wrap', pickerBtn, picker)),
    results, more);

  const chart = new Chart(histEl);
  let histBuckets = [];
  let histStep = 0;
  chart.on('click', (p) => {
    const b = histBuckets[p.dataIndex];
    if (!b) return;
    const t = new Date(b.t).getTime();
    ctx.setQuery({ since: new Date(t).toISOString(), until: new Date(t + histStep * 1000).toISOString() });
  });

  if (national) {
    api('orgs').then((r) => {
      for (const o of (r.orgs || []).sort((a, b) => a.name.localeCompare(b.name))) orgSel.append(h('option', { value: o.id }, o.name));
      orgSel.value = q.get('org') || '';
    }).catch(() => {});
  }

  const since = () => (q.has('since') ? (q.get('since') === 'all' ? '' : q.get('since')) : '24h');
  const cols = () => (q.get('cols') ? q.get('cols').split(',').filter(Boolean) : DEFAULT_COLS);

  function apiQuery() {
    const out = {};
    if (q.get('q')) out.q = q.get('q');
    if (since()) out.since = since();
    if (q.get('until')) out.until = q.get('until');
    if (q.get('org')) out.org = q.get('org');
    const f = q.getAll('field');
    if (f.length) out.field = f;
    return out;
  }

  function syncForm() {
    if (document.activeElement !== text) text.value = q.get('q') || '';
    const s = since();
    const isCustom = (s && !RANGES.some(([v]) => v === s)) || q.get('until');
    rangeSel.value = isCustom ? 'custom' : s;
    custom.hidden = !isCustom;
    if (isCustom) {
      sinceIn.value = toLocalInput(s);
      untilIn.value = toLocalInput(q.get('until'));
    }
    orgSel.value = q.get('org') || '';
    replace(chips, q.getAll('field').map((f) => h('span.chip.on', f.replace(':', ' = '),
      h('button.x', { type: 'button', 'aria-label': `Remove filter ${f}`, onclick: () => ctx.setQuery({ field: q.getAll('field').filter((x) => x !== f) }) }, '×'))));
  }

  async function load(append = false) {
    ctl.abort();
    ctl = new AbortController();
    const signal = ctl.signal;
    if (!append) {
      replace(results, spinner('Searching…'));
      histogram(signal);
    }
    try {
      const r = await api('events', { query: { ...apiQuery(), limit: PAGE, cursor: append ? next : '' }, signal });
      if (!alive) return;
      if (!append) events = [];
      events = events.concat(r.events || []);
      next = r.next || '';
      total = r.total;
      for (const e of r.events || []) for (const k of Object.keys(e.fields || {})) known.add(k);
      replace(fieldList, [...known].sort().map((k) => h('option', { value: k })));
      draw();
      if (histFallback) drawHistogram(localHistogram(), true);
    } catch (e) {
      if (e.name !== 'AbortError' && alive) replace(results, errorBox(e));
    }
  }

  let histFallback = false;
  async function histogram(signal) {
    try {
      const r = await api('events/histogram', { query: { ...apiQuery(), buckets: 60 }, signal });
      histFallback = false;
      drawHistogram(r, false);
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.missing) {
        histFallback = true;
        return;
      }
      replace(histNote, e.message);
    }
  }

  // localHistogram counts the loaded events when the server has no
  // histogram endpoint.
  function localHistogram() {
    if (!events.length) return { buckets: [], interval_seconds: 60 };
    const ts = events.map((e) => new Date(e.timestamp).getTime()).filter((t) => !Number.isNaN(t));
    const lo = Math.min(...ts);
    const hi = Math.max(...ts);
    const step = Math.max(1, Math.ceil((hi - lo + 1) / 60 / 1000));
    const start = Math.floor(lo / 1000 / step) * step * 1000;
    const n = Math.floor((hi - start) / 1000 / step) + 1;
    const b = Array.from({ length: n }, (_, i) => ({ t: new Date(start + i * step * 1000).toISOString(), count: 0 }));
    for (const t of ts) b[Math.floor((t - start) / 1000 / step)].count++;
    return { buckets: b, interval_seconds: step };
  }

  function drawHistogram(r, local) {
    histBuckets = r.buckets || [];
    histStep = r.interval_seconds || 60;
    const long = histBuckets.length && new Date(histBuckets[histBuckets.length - 1].t) - new Date(histBuckets[0].t) > 86400_000;
    chart.set({
      grid: { top: 8 },
      legend: { show: false },
      tooltip: { formatter: (ps) => `${time(histBuckets[ps[0].dataIndex].t)}<br>${num(ps[0].value)} events` },
      xAxis: { type: 'category', data: histBuckets.map((b) => (long ? time(b.t).slice(5, 16) : clock(b.t).slice(0, 5))) },
      yAxis: { type: 'value' },
      series: [{ type: 'bar', data: histBuckets.map((b) => b.count), itemStyle: { color: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim() }, barCategoryGap: '10%' }],
    });
    replace(histNote, local ? `of the ${num(events.length)} loaded events (no histogram on this server)` : `${histStep >= 3600 ? histStep / 3600 + ' h' : histStep >= 60 ? histStep / 60 + ' min' : histStep + ' s'} per bar · click a bar to zoom`);
  }

  function draw() {
    const cs = cols();
    const head = h('tr', h('th.expand', ''), cs.map((c) => h('th', { scope: 'col' }, BUILTIN[c] ? BUILTIN[c].label : c)));
    const body = h('tbody');
    events.forEach((e, i) => {
      const tr = h('tr', { dataset: { i: String(i) } },
        h('td.expand', h('button.icon.small', { type: 'button', 'aria-label': 'Show all fields', 'aria-expanded': 'false', onclick: (ev) => expand(ev.currentTarget, tr, e) }, '▸')),
        cs.map((c) => h('td', { class: c === '@summary' ? 'summary' : BUILTIN[c] ? 'env ' + c.slice(1) : 'field' }, cell(e, c))));
      body.append(tr);
    });
    if (!events.length) body.append(h('tr.empty-row', h('td', { colspan: cs.length + 1 }, 'No events match. Widen the time range or remove a filter.')));
    replace(results, h('table.grid.events#s-table', h('thead', head), body));
    replace(count, `${num(total)} event${total === 1 ? '' : 's'}`, events.length < total ? ` · ${num(events.length)} shown` : '');
    replace(more, next ? h('button#s-more', { type: 'button', onclick: () => load(true) }, `Load ${PAGE} more`) : '');
    if (!picker.hidden) fillPicker();
  }

  function cell(e, c) {
    const sinceQ = q.get('since') || '';
    if (c === '@summary') {
      const f = e.fields || {};
      const keys = Object.keys(f).filter((k) => !cols().includes(k)).slice(0, 6);
      return keys.map((k) => h('span.kvp', h('span.k', k, '='), pivotLink(k, first(f[k]), sinceQ, q.get('cols'))));
    }
    if (BUILTIN[c]) {
      const b = BUILTIN[c];
      if (b.render) return b.render(e);
      const v = b.value(e);
      if (v == null || v === '') return '—';
      if (c === '@org') return h('a', { href: `/ui/orgs/${encodeURIComponent(e.org_id)}` }, v);
      return pivotLink(b.field || null, v, sinceQ, q.get('cols'));
    }
    const v = (e.fields || {})[c];
    if (v == null) return '';
    return (Array.isArray(v) ? v : [v]).map((x) => pivotLink(c, x, sinceQ, q.get('cols')));
  }

  function expand(btn, tr, e) {
    const open = btn.getAttribute('aria-expanded') === 'true';
    if (open) {
      tr.nextElementSibling.remove();
      btn.setAttribute('aria-expanded', 'false');
      btn.textContent = '▸';
      return;
    }
    btn.setAttribute('aria-expanded', 'true');
    btn.textContent = '▾';
    const f = e.fields || {};
    const env = [['org', e.org], ['host', e.host], ['source', e.source], ['channel', e.channel], ['event_id', e.event_id], ['received', time(e.received)], ['id', e.id]];
    const detail = h('tr.expanded', h('td', { colspan: cols().length + 1 }, h('table.grid.fields', h('tbody',
      env.filter(([, v]) => v).map(([k, v]) => h('tr.env', h('th', k), h('td', v))),
      Object.keys(f).sort().map((k) => h('tr', h('th', k), h('td', (Array.isArray(f[k]) ? f[k] : [f[k]]).map((v) => h('div.fv',
        pivotLink(k, v, q.get('since') || '', q.get('cols')),
        h('button.link.addf', { type: 'button', title: 'Add as a filter to this search', onclick: () => ctx.setQuery({ field: [...q.getAll('field'), `${k}:${v}`] }) }, '+ filter'),
        h('button.link.addc', { type: 'button', title: 'Show this field as a column', hidden: cols().includes(k), onclick: () => setCols([...cols(), k]) }, '+ column'))))))))));
    tr.after(detail);
  }

  function togglePicker() {
    picker.hidden = !picker.hidden;
    pickerBtn.setAttribute('aria-expanded', String(!picker.hidden));
    if (!picker.hidden) fillPicker();
  }

  function fillPicker() {
    const cs = cols();
    const all = [...Object.keys(BUILTIN), ...[...known].sort((a, b) => a.localeCompare(b))];
    for (const c of cs) if (!all.includes(c)) all.push(c);
    const filter = h('input', { type: 'search', placeholder: 'Find a field', 'aria-label': 'Find a field' });
    const box = h('div.picker-list', all.map((c) => h('label', { dataset: { name: c.toLowerCase() } },
      h('input', { type: 'checkbox', checked: cs.includes(c), value: c, onchange: (ev) => setCols(ev.target.checked ? [...cols(), c] : cols().filter((x) => x !== c)) }),
      BUILTIN[c] ? h('em', BUILTIN[c].label) : c)));
    filter.addEventListener('input', () => {
      const f = filter.value.toLowerCase();
      for (const l of box.children) l.hidden = f && !l.dataset.name.includes(f);
    });
    replace(picker, filter, box, h('div.actions', h('button.ghost', { type: 'button', onclick: () => setCols(DEFAULT_COLS) }, 'Defaults'), h('button', { type: 'button', onclick: togglePicker }, 'Done')));
  }

  function setCols(cs) {
    // The field summary stays last: picked fields go before it.
    if (cs.includes('@summary')) cs = [...cs.filter((c) => c !== '@summary'), '@summary'];
    const same = cs.length === DEFAULT_COLS.length && cs.every((c, i) => c === DEFAULT_COLS[i]);
    const url = new URLSearchParams(location.search);
    if (same) url.delete('cols');
    else url.set('cols', cs.join(','));
    // Columns change the view only: keep the loaded results.
    history.replaceState(null, '', location.pathname + (url.toString() ? '?' + url : ''));
    q = url;
    draw();
  }

  ctx.keys({ '/': () => text.focus() });
  text.addEventListener('input', debounce(() => {
    if (text.value.trim() === '' && q.get('q')) ctx.setQuery({ q: '' }, { replace: true });
  }, 500));

  syncForm();
  load();
  return {
    update(nq) {
      const onlyCols = sameExcept(q, nq, 'cols');
      q = nq;
      if (onlyCols) return draw();
      syncForm();
      load();
    },
    destroy() {
      alive = false;
      ctl.abort();
      chart.dispose();
    },
  };
}

const first = (v) => (Array.isArray(v) ? v[0] : v);

// pivotLink is a value as a link to a new search for it (keeping the
// time range and the chosen columns).
function pivotLink(field, value, since, cols) {
  if (value == null || value === '') return '—';
  const v = String(value);
  const shown = v.length > 160 ? v.slice(0, 160) + '…' : v;
  const href = searchURL({ field, value: v, since }) + (cols ? '&cols=' + encodeURIComponent(cols) : '');
  return h('a.pv', { href, title: field ? `Pivot: events where ${field} = ${v}` : `Pivot: events containing ${v}` }, shown);
}

function sameExcept(a, b, key) {
  const strip = (u) => {
    const x = new URLSearchParams(u);
    x.delete(key);
    x.sort();
    return x.toString();
  };
  return strip(a) === strip(b);
}

function toLocalInput(v) {
  if (!v) return '';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
