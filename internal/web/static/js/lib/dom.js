// DOM building and formatting helpers. Every piece of data reaches the page
// through text nodes or attributes set here, never through innerHTML: event
// fields are attacker-controlled.

// h builds an element: h('a.link#id', {href, onclick, dataset: {...}}, child, ...).
// Children may be strings, numbers, nodes, arrays, or null/false (skipped).
export function h(spec, attrs, ...children) {
  if (attrs == null || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  const m = /^([a-z0-9-]*)((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement((m && m[1]) || 'div');
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.classList.add(...String(v).split(/\s+/).filter(Boolean));
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') {
      for (const [p, x] of Object.entries(v)) {
        if (p.startsWith('--')) el.style.setProperty(p, x);
        else el.style[p] = x;
      }
    }
    else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'indeterminate') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace empties el and fills it with children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

const nf = new Intl.NumberFormat('en-GB');
export const num = (n) => (n == null || Number.isNaN(n) ? '—' : nf.format(n));

// compact shows 1234 as 1.2k for tight places.
export function compact(n) {
  if (n == null) return '—';
  if (n < 1000) return String(n);
  if (n < 1e6) return (n / 1e3).toFixed(n < 1e4 ? 1 : 0) + 'k';
  return (n / 1e6).toFixed(1) + 'M';
}

const pad = (n) => String(n).padStart(2, '0');

// time formats a timestamp as local "YYYY-MM-DD HH:MM:SS".
export function time(t) {
  if (!t) return '—';
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function clock(t) {
  const d = t instanceof Date ? t : new Date(t);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// ago formats the time since t: "12 s", "5 min", "3 h", "2 d".
export function ago(t, now = Date.now()) {
  if (!t) return 'never';
  const s = Math.max(0, Math.round((now - new Date(t).getTime()) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

// timeEl is a <time> showing time(t) with the relative age as a tooltip.
export const timeEl = (t) => h('time', { datetime: t, title: t ? ago(t) : '' }, time(t));

// delta renders "+12 %" against a reference value.
export function delta(now, ref) {
  if (ref == null || now == null) return h('span.delta', '—');
  if (ref === 0) return h('span.delta', now === 0 ? '±0' : 'new');
  const p = Math.round(((now - ref) / ref) * 100);
  return h('span.delta', { class: p > 0 ? 'up' : p < 0 ? 'down' : '' }, `${p > 0 ? '+' : ''}${p} %`);
}

export function debounce(fn, ms) {
  let t;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}

// throttle runs fn at most once per ms, trailing calls included.
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return (...a) => {
    const wait = last + ms - Date.now();
    if (wait <= 0) {
      last = Date.now();
      fn(...a);
    } else if (!timer) {
      timer = setTimeout(() => {
        timer = null;
        last = Date.now();
        fn(...a);
      }, wait);
    }
  };
}

export const LEVELS = ['critical', 'high', 'medium', 'low', 'informational'];
export const STATUSES = ['new', 'acknowledged', 'in_progress', 'closed'];
export const RESOLUTIONS = ['true_positive', 'false_positive', 'benign', 'duplicate'];

export const label = (s) => (s ? String(s).replace(/_/g, ' ') : '—');

export const levelBadge = (level) => h('span.badge.level', { class: `lv-${level}` }, level || '—');
export const statusBadge = (s) => h('span.badge.status', { class: `st-${s}` }, label(s));

// empty is the placeholder row or panel text for "nothing here".
export const empty = (text) => h('div.empty', text);

// unavailable marks a panel whose API endpoint this server does not have yet.
export const unavailable = (what) => h('div.empty.unavailable', `${what}: not available on this server`);

// copy puts text on the clipboard, with a fallback for plain http.
export async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h('textarea', { style: { position: 'fixed', opacity: '0' } }, text);
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}
