// Security ratings: grades and their colours, the 7-day trend, factor
// names, the ratings API (GET /api/v1/ratings and /api/v1/ratings/history)
// and the history chart shared by the ratings screens and the reports.

import { h, num } from './dom.js';
import { api, ApiError } from './api.js';
import { sectorLabel, sectorColour } from './charts.js';

export const GRADES = ['A', 'B', 'C', 'D', 'F'];
export const GRADE_COLOURS = { A: '#22c55e', B: '#84cc16', C: '#eab308', D: '#f97316', F: '#ef4444' };
export const GRADE_FLOORS = { A: 90, B: 80, C: 70, D: 60, F: 0 };

// gradeOf maps a score to its grade as the server does.
export function gradeOf(score) {
  if (score == null || Number.isNaN(score)) return '';
  return score >= 90 ? 'A' : score >= 80 ? 'B' : score >= 70 ? 'C' : score >= 60 ? 'D' : 'F';
}

export const scoreText = (s) => (s == null || Number.isNaN(s) ? '—' : Number(s).toFixed(1));

// gradeBadge is the grade letter on its colour; big for the report card.
export function gradeBadge(grade, { big = false, title } = {}) {
  return h('span.grade', { class: `g-${grade || 'none'}${big ? ' big' : ''}`, title: title || (grade ? `Grade ${grade}` : 'Not rated') }, grade || '—');
}

// FACTORS names the rating's factors, in the server's display order.
export const FACTORS = [
  ['incidents', 'Open incidents'], ['response', 'Response time'], ['detections', 'Detections'],
  ['hygiene', 'Hygiene'], ['intel', 'Threat intelligence'], ['telemetry', 'Telemetry coverage'],
];
export const factorLabel = (f) => (FACTORS.find(([k]) => k === f) || [f, String(f || '').replace(/_/g, ' ')])[1];

// trendDelta reads a trend: a number (the change over 7 days) or the
// server's {delta, days, ...}; null when there is none yet.
export function trendDelta(t) {
  if (t == null) return null;
  if (typeof t === 'number') return t;
  if (typeof t === 'object' && typeof t.delta === 'number') return t.delta;
  return null;
}

// trendEl shows a trend as an arrow and the change in points; up is better.
export function trendEl(t) {
  const d = trendDelta(t);
  if (d == null) return h('span.trend.none', { title: 'No trend yet: less than two days of history' }, '—');
  const days = t && typeof t === 'object' && t.days ? t.days : 7;
  const cls = d > 0 ? 'up' : d < 0 ? 'down' : 'flat';
  const arrow = d > 0 ? '▲' : d < 0 ? '▼' : '▶';
  const text = `${d > 0 ? '+' : d < 0 ? '−' : '±'}${Math.abs(d).toFixed(1)}`;
  return h('span.trend', { class: cls, title: `${text} points over ${days} day${days === 1 ? '' : 's'}` }, arrow, ' ', text);
}

// trendLine is the trend with its span, or why there is none yet.
export function trendLine(t) {
  const d = trendDelta(t);
  if (d == null) return h('span.trend-line', h('span.note', 'no 7-day trend yet'));
  const days = t && typeof t === 'object' && t.days ? t.days : 7;
  return h('span.trend-line', trendEl(t), h('span.note', ` over ${days} day${days === 1 ? '' : 's'}`));
}

// RatingsError explains a ratings call that failed in words for the page.
export function ratingsProblem(e) {
  if (e instanceof ApiError && e.missing) return 'Security ratings are not available on this server.';
  if (e instanceof ApiError && (e.status === 503 || e.code === 'unavailable')) return 'The first ratings are not computed yet: they appear a few minutes after the server starts.';
  return e && e.message ? e.message : String(e);
}

// notYet tells whether the ratings are still being computed (the server
// answers 503 until the first computation ends): the caller retries.
export const notYet = (e) => e instanceof ApiError && e.status === 503;
export const RETRY_MS = 5000;

// ratings returns GET /api/v1/ratings.
export const ratings = (signal) => api('ratings', { signal });

// history returns the series of GET /api/v1/ratings/history for one
// subject ({org}, {sector} or {national: 1}), or [] where it fails.
export async function history(subject, days = 30, signal) {
  try {
    const r = await api('ratings/history', { query: { ...subject, days }, signal });
    return (r && r.series) || [];
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    return [];
  }
}

// historyOf returns the history series of several subjects. It asks for
// them all at once and, where the server answers only part, one by one.
export async function historyOf(subjects, days = 30, signal) {
  const query = { days, org: [], sector: [] };
  for (const s of subjects) {
    if (s.org) query.org.push(s.org);
    if (s.sector) query.sector.push(s.sector);
    if (s.national) query.national = 1;
  }
  let got = [];
  try {
    const r = await api('ratings/history', { query, signal });
    got = (r && r.series) || [];
  } catch (e) {
    if (e.name === 'AbortError') throw e;
  }
  const keyOf = (s) => (s.org ? `org:${s.org}` : s.sector ? `sector:${s.sector}` : 'national');
  const order = subjects.map(keyOf);
  const byOrder = (a, b) => (order.indexOf(a.key) + 1 || 99) - (order.indexOf(b.key) + 1 || 99);
  if (got.length >= subjects.length) return got.sort(byOrder);
  const have = new Set(got.map((s) => s.key));
  const missing = subjects.filter((s) => !have.has(keyOf(s)));
  const more = await Promise.all(missing.map((s) => history(s, days, signal)));
  const out = [...got];
  for (const s of more.flat()) {
    if (have.has(s.key)) continue;
    have.add(s.key);
    out.push(s);
  }
  return out.sort(byOrder);
}

// seriesLabel names a history series for a legend; withOrgs marks sector
// series as the sector's average beside organisations.
export function seriesLabel(s, withOrgs = false) {
  const k = s.key || '';
  if (k === 'national') return withOrgs ? 'National average' : 'National';
  if (k.startsWith('sector:')) return withOrgs ? `${sectorLabel(k.slice(7))} sector average` : sectorLabel(k.slice(7));
  return s.name || k.replace(/^org:/, '');
}

// seriesColour picks a history series' colour: sectors their own, the
// nation grey, an organisation the ink of the page (or of paper) so that
// it never looks like its sector.
const PALETTE = ['#a78bfa', '#f472b6', '#facc15', '#34d399'];
function seriesColour(s, i, paper) {
  const k = s.key || '';
  if (k === 'national') return '#94a3b8';
  if (k.startsWith('sector:')) return sectorColour(k.slice(7));
  if (i === 0) return paper ? '#111827' : getComputedStyle(document.documentElement).getPropertyValue('--fg').trim() || '#dbe4ee';
  return PALETTE[i % PALETTE.length];
}

// historyOption is an ECharts option drawing history series (each
// {key, name, points:[{day, score}]}) as lines over their days, on a
// score axis labelled with the grade floors. paper forces print colours.
export function historyOption(series, { paper = false, emphasise } = {}) {
  const days = [...new Set(series.flatMap((s) => (s.points || []).map((p) => p.day)))].sort();
  const lows = series.flatMap((s) => (s.points || []).map((p) => p.score));
  const min = lows.length ? Math.max(0, Math.floor((Math.min(...lows) - 5) / 10) * 10) : 0;
  const ink = paper ? { fg: '#333', grid: '#ddd' } : null;
  const withOrgs = series.some((s) => (s.key || '').startsWith('org:'));
  const axisText = ink ? { color: ink.fg } : {};
  return {
    ...(ink ? { textStyle: { color: ink.fg }, legend: { textStyle: { color: ink.fg } } } : {}),
    tooltip: { trigger: 'axis', axisPointer: { type: 'line' }, valueFormatter: (v) => (v == null ? '—' : `${Number(v).toFixed(1)} (${gradeOf(v)})`) },
    xAxis: { type: 'category', boundaryGap: false, data: days, axisLabel: { ...axisText, formatter: (d) => d.slice(5) }, ...(ink ? { axisLine: { lineStyle: { color: ink.grid } } } : {}) },
    yAxis: {
      type: 'value', min, max: 100, interval: 10, minInterval: 10,
      axisLabel: { ...axisText, formatter: (v) => (v === 90 ? '90 A' : v === 80 ? '80 B' : v === 70 ? '70 C' : v === 60 ? '60 D' : String(v)) },
      ...(ink ? { splitLine: { lineStyle: { color: ink.grid } } } : {}),
    },
    series: series.map((s, i) => {
      const by = new Map((s.points || []).map((p) => [p.day, p.score]));
      const main = emphasise ? s.key === emphasise : i === 0;
      return {
        name: seriesLabel(s, withOrgs), type: 'line', connectNulls: true, showSymbol: days.length < 3 || main, symbolSize: main ? 7 : 4,
        data: days.map((d) => (by.has(d) ? by.get(d) : null)),
        lineStyle: { width: main ? 3 : 1.5, type: !main && (s.key === 'national' || (s.key || '').startsWith('sector:')) ? 'dashed' : 'solid' },
        itemStyle: { color: seriesColour(s, i, paper) },
        emphasis: { focus: 'series' },
      };
    }),
  };
}

// historyNote says how much history there is, for a chart's caption.
export function historyNote(series) {
  const n = Math.max(0, ...series.map((s) => (s.points || []).length));
  if (!n) return 'No history yet: a point is recorded every day.';
  if (n === 1) return 'One day of history so far: the line grows by a point every day.';
  return `${num(n)} days`;
}
