// Charts: a thin layer over the vendored ECharts build, themed from the CSS
// variables of the current theme, resized with their container, and updated
// in place (no animation on updates, so live data never makes them jump).

import * as echarts from '../../vendor/echarts.min.js';

export const SECTORS = ['government', 'defence', 'energy-power', 'energy-gas', 'water', 'transport', 'medical', 'welfare',
  'finance', 'telecom', 'it', 'manufacturing', 'education', 'other'];

// One colour per sector, the same on every chart; chosen to stay apart on
// both themes.
const SECTOR_COLOURS = {
  government: '#5b8def', defence: '#8b6cf0', 'energy-power': '#f2b632', 'energy-gas': '#f08a32', water: '#2fb9d6',
  transport: '#9aa63a', medical: '#ef5a7a', welfare: '#d67ad8', finance: '#3cc68a', telecom: '#4fd1c5', it: '#7f9cf5',
  manufacturing: '#b08b5e', education: '#e8795a', other: '#8a94a6',
};

export const sectorColour = (s) => SECTOR_COLOURS[s] || '#8a94a6';
export const sectorLabel = (s) => (s === 'it' ? 'IT' : String(s || 'other').replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase()));

function css(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// fontSize follows the page's root size, which grows with the screen (a
// wall screen must be readable from across the room).
const fontSize = () => Math.round(parseFloat(getComputedStyle(document.documentElement).fontSize) * 0.82);

function base() {
  const fg = css('--fg-muted');
  const grid = css('--border');
  const fs = fontSize();
  return {
    animation: false,
    textStyle: { fontFamily: css('--font'), color: fg, fontSize: fs },
    grid: { left: 8, right: 12, top: 36, bottom: 4, containLabel: true },
    tooltip: {
      trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true,
      backgroundColor: css('--bg-raised'), borderColor: grid, textStyle: { color: css('--fg'), fontSize: fs },
    },
    legend: { type: 'scroll', top: 0, left: 0, right: 0, textStyle: { color: fg, fontSize: fs }, pageTextStyle: { color: fg },
      pageIconColor: fg, pageIconInactiveColor: grid, itemWidth: fs * 0.85, itemHeight: fs * 0.85 },
    xAxis: { axisLine: { lineStyle: { color: grid } }, axisLabel: { color: fg, fontSize: fs }, splitLine: { show: false } },
    yAxis: { axisLine: { show: false }, axisLabel: { color: fg, fontSize: fs }, splitLine: { lineStyle: { color: grid } }, minInterval: 1 },
  };
}

const live = new Set();

// Chart owns one ECharts instance in el.
export class Chart {
  constructor(el) {
    this.el = el;
    this.chart = echarts.init(el, null, { renderer: 'canvas' });
    this.option = null;
    this.fs = fontSize();
    this.ro = new ResizeObserver(() => {
      this.chart.resize();
      if (this.option && fontSize() !== this.fs) this.set(this.option);
    });
    this.ro.observe(el);
    live.add(this);
  }
  set(option) {
    this.option = option;
    this.fs = fontSize();
    this.chart.setOption(merge(base(), option), { notMerge: true, lazyUpdate: true });
  }
  on(ev, fn) {
    this.chart.on(ev, fn);
  }
  dispose() {
    this.ro.disconnect();
    this.chart.dispose();
    live.delete(this);
  }
}

// retheme redraws every chart with the colours of the new theme.
export function retheme() {
  for (const c of live) if (c.option) c.set(c.option);
}

function merge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && a[k] && typeof a[k] === 'object' ? merge(a[k], v) : v;
  }
  return out;
}

// stackedBySector is a stacked bar chart of rows {t, sector, count} over
// the time buckets ts (Date values, step ms apart), labelled with fmt.
export function stackedBySector(rows, ts, step, fmt) {
  const bySector = new Map();
  const t0 = ts.length ? ts[0].getTime() : 0;
  for (const r of rows) {
    const i = Math.floor((new Date(r.t).getTime() - t0) / step);
    if (i < 0 || i >= ts.length) continue;
    const s = r.sector || 'other';
    if (!bySector.has(s)) bySector.set(s, new Array(ts.length).fill(0));
    bySector.get(s)[i] += r.count;
  }
  const sectors = [...bySector.keys()].sort((a, b) => SECTORS.indexOf(a) - SECTORS.indexOf(b));
  return {
    xAxis: { type: 'category', data: ts.map(fmt) },
    yAxis: { type: 'value' },
    series: sectors.map((s) => ({
      id: s, name: sectorLabel(s), type: 'bar', stack: 'all', barMaxWidth: 28, data: bySector.get(s),
      itemStyle: { color: sectorColour(s) }, emphasis: { focus: 'series' },
    })),
  };
}

export const HOUR = 3600_000;
export const DAY = 86400_000;

// buckets returns the n bucket starts, step ms apart and aligned on the Unix
// epoch (whole UTC hours or days, as the API counts them), ending with the
// bucket that holds now.
export function buckets(n, step, now = Date.now()) {
  const last = Math.floor(now / step) * step;
  return Array.from({ length: n }, (_, i) => new Date(last - (n - 1 - i) * step));
}
