// Boot, session and the navigation shell. Routes are paths under /ui/; every
// filter lives in the query string, so every state is a deep link.

import { h, $, replace } from './lib/dom.js';
import { api, ApiError, onUnauthenticated, stream } from './lib/api.js';
import { retheme } from './lib/charts.js';
import { toast, dialog } from './lib/ui.js';
import * as login from './views/login.js';
import * as dashboard from './views/dashboard.js';
import * as queue from './views/queue.js';
import * as alertView from './views/alert.js';
import * as incidents from './views/incidents.js';
import * as incident from './views/incident.js';
import * as campaigns from './views/campaigns.js';
import * as campaign from './views/campaign.js';
import * as decisions from './views/decisions.js';
import * as decisionView from './views/decision.js';
import * as intel from './views/intel.js';
import * as ratings from './views/ratings.js';
import * as sectorRating from './views/sector.js';
import * as scorecard from './views/scorecard.js';
import * as report from './views/report.js';
import * as search from './views/search.js';
import * as orgs from './views/orgs.js';
import * as org from './views/org.js';
import * as rules from './views/rules.js';
import * as admin from './views/admin.js';

const BASE = '/ui/';

// Routes: pattern segments starting with ':' are parameters. need: the
// permission (me.can) the screen requires; the nav shows only what may be used.
const routes = [
  { path: 'login', view: login, bare: true },
  { path: '', view: dashboard, nav: 'dashboard' },
  { path: 'alerts', view: queue, nav: 'alerts' },
  { path: 'alerts/:id', view: alertView, nav: 'alerts' },
  { path: 'incidents', view: incidents, nav: 'incidents' },
  { path: 'incidents/:id', view: incident, nav: 'incidents' },
  { path: 'campaigns', view: campaigns, nav: 'campaigns' },
  { path: 'campaigns/:id', view: campaign, nav: 'campaigns' },
  { path: 'decisions', view: decisions, nav: 'decisions' },
  { path: 'decisions/:id', view: decisionView, nav: 'decisions' },
  { path: 'intel', view: intel, nav: 'intel' },
  { path: 'ratings', view: ratings, nav: 'ratings' },
  { path: 'ratings/sector/:sector', view: sectorRating, nav: 'ratings' },
  { path: 'ratings/sector/:sector/report', view: report, nav: 'ratings' },
  { path: 'ratings/org/:id', view: scorecard, nav: 'ratings' },
  { path: 'ratings/org/:id/report', view: report, nav: 'ratings' },
  { path: 'search', view: search, nav: 'search' },
  { path: 'orgs', view: orgs, nav: 'orgs' },
  { path: 'orgs/:id', view: org, nav: 'orgs' },
  { path: 'rules', view: rules, nav: 'rules' },
  { path: 'admin', view: admin, nav: 'admin', need: 'admin' },
];

const NAV = [
  ['dashboard', '', 'Situation', 'g d'],
  ['incidents', 'incidents', 'Incidents', 'g n'],
  ['alerts', 'alerts', 'Alerts', 'g a'],
  ['campaigns', 'campaigns', 'Campaigns', 'g c'],
  ['decisions', 'decisions', 'Prevention', 'g p'],
  ['intel', 'intel', 'Intel', 'g t'],
  ['search', 'search', 'Investigate', 'g i'],
  ['orgs', 'orgs', 'Organisations', 'g o'],
  ['ratings', 'ratings', 'Ratings', 'g s'],
  ['rules', 'rules', 'Rules', 'g r'],
  ['admin', 'admin', 'Administration', '', 'admin'],
];

const app = {
  me: null,
  current: null, // {route, key, instance}
  keys: [], // keyboard handler stacks of the current view
};

function match(pathname) {
  let p = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname.replace(/^\/ui\/?/, '');
  p = p.replace(/\/+$/, '');
  const segs = p === '' ? [] : p.split('/').map(decodeURIComponent);
  for (const r of routes) {
    const rs = r.path === '' ? [] : r.path.split('/');
    if (rs.length !== segs.length) continue;
    const params = {};
    if (rs.every((s, i) => (s.startsWith(':') ? ((params[s.slice(1)] = segs[i]), true) : s === segs[i]))) return { route: r, params };
  }
  return null;
}

// navigate goes to url (a path under /ui/, with its query), adding a history
// entry unless replace is set.
export function navigate(url, { replace: rep = false } = {}) {
  const u = new URL(url, location.origin);
  if (u.pathname + u.search === location.pathname + location.search) return render();
  history[rep ? 'replaceState' : 'pushState'](null, '', u.pathname + u.search + u.hash);
  render();
}

// setQuery changes the current URL's query (null or '' removes a key) and
// lets the view update itself; arrays become repeated keys.
export function setQuery(changes, { replace: rep = false } = {}) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    q.delete(k);
    if (Array.isArray(v)) v.filter(Boolean).forEach((x) => q.append(k, x));
    else if (v != null && v !== '') q.set(k, v);
  }
  navigate(location.pathname + (q.toString() ? '?' + q : ''), { replace: rep });
}

async function render() {
  const m = match(location.pathname);
  if (!app.me && !(m && m.route.bare)) {
    try {
      app.me = await api('me');
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        const next = location.pathname + location.search;
        history.replaceState(null, '', BASE + 'login' + (next.startsWith(BASE + 'login') || next === BASE ? '' : '?next=' + encodeURIComponent(next)));
        return render();
      }
      replace($('#app'), h('div.fatal', h('h1', 'Mamori'), h('p', e.message), h('button', { onclick: () => location.reload() }, 'Retry')));
      return;
    }
  }
  const query = new URLSearchParams(location.search);
  const key = m ? m.route.path + '|' + JSON.stringify(m.params) : 'notfound';
  const cur = app.current;
  if (cur && cur.key === key && cur.instance && cur.instance.update) {
    cur.instance.update(query);
    return;
  }
  teardown();
  const root = $('#app');
  if (!m) return show(root, null, notFound('No such page.'));
  if (m.route.need && !(app.me && app.me.can && app.me.can[m.route.need])) return show(root, m.route, notFound('This page is not available to your role.'));
  const main = h('main#main', { tabindex: '-1' });
  if (m.route.bare) replace(root, main);
  else replace(root, shell(m.route.nav), main);
  document.title = 'Mamori';
  const ctx = {
    root: main,
    params: m.params,
    query,
    me: app.me,
    navigate,
    setQuery,
    title: (t) => (document.title = t ? `${t} · Mamori` : 'Mamori'),
    keys: (map) => app.keys.push(map),
    signedIn: (me) => {
      app.me = me;
    },
  };
  const instance = m.route.view.mount(ctx) || {};
  app.current = { key, instance };
}

function show(root, route, node) {
  replace(root, shell(route && route.nav), h('main#main', node));
  app.current = { key: 'notfound', instance: null };
}

function notFound(text) {
  return h('div.notfound', h('h1', 'Not found'), h('p', text), h('a', { href: BASE }, 'Back to the situation'));
}

function teardown() {
  const cur = app.current;
  app.current = null;
  app.keys = [];
  if (cur && cur.instance && cur.instance.destroy) cur.instance.destroy();
  document.querySelectorAll('dialog.modal').forEach((d) => d.remove());
}

function shell(active) {
  const me = app.me || {};
  const can = me.can || {};
  const dot = h('span.stream-dot', { title: 'Live updates' });
  if (app.unsubDot) app.unsubDot();
  app.unsubDot = stream.onState((s) => {
    dot.className = 'stream-dot ' + s;
    dot.title = { live: 'Live updates (stream)', polling: 'Live updates (polling every 10 s)', reconnecting: 'Reconnecting…', down: 'Live updates interrupted', off: 'Live updates off' }[s] || s;
  });
  const theme = document.documentElement.dataset.theme;
  return h('header.topbar',
    h('a.brand', { href: BASE, title: 'Mamori: national situational awareness' }, h('img', { src: $('link[rel=icon]').href, alt: '' }), 'Mamori'),
    h('nav.mainnav', { 'aria-label': 'Main' },
      NAV.filter(([, , , , need]) => !need || can[need]).map(([id, path, text, key]) =>
        h('a', { href: BASE + path, class: id === active ? 'active' : '', 'aria-current': id === active ? 'page' : null, title: key ? `${text} (${key})` : text }, text))),
    h('div.topbar-right',
      dot,
      h('button.icon#theme-toggle', { type: 'button', title: 'Switch to the ' + (theme === 'dark' ? 'light' : 'dark') + ' theme', 'aria-label': 'Switch theme', onclick: toggleTheme }, theme === 'dark' ? '☀' : '☾'),
      h('button.icon', { type: 'button', title: 'Keyboard shortcuts (?)', 'aria-label': 'Keyboard shortcuts', onclick: help }, '?'),
      h('span.whoami', { title: me.scope ? `scope: ${me.scope}` : '' }, h('strong', me.user || ''), ' ', h('span.role', (me.role || '').replace(/_/g, ' ')), me.org_id ? h('span.org', ' · ' + me.org_id) : null),
      h('button#logout', { type: 'button', class: 'ghost', onclick: logout }, 'Log out')));
}

function toggleTheme() {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  setTheme(next);
  localStorage.setItem('mamori.theme', next);
  const b = $('#theme-toggle');
  if (b) {
    b.textContent = next === 'dark' ? '☀' : '☾';
    b.title = 'Switch to the ' + (next === 'dark' ? 'light' : 'dark') + ' theme';
  }
}

function setTheme(t) {
  document.documentElement.dataset.theme = t;
  retheme();
}

async function logout() {
  try {
    await api('logout', { method: 'POST' });
  } catch {
    /* servers without a logout endpoint: the cookie is cleared below */
  }
  await fetch(BASE + 'logout', { method: 'POST', credentials: 'same-origin' }).catch(() => {});
  signedOut();
  navigate(BASE + 'login', { replace: true });
}

function signedOut() {
  app.me = null;
  stream.stop();
  teardown();
}

function help() {
  const rows = [
    ['g d / g n / g a / g c', 'Situation, incidents, alerts, campaigns'],
    ['g p / g t', 'Prevention (decisions), threat intelligence'],
    ['g i / g o / g s / g r', 'Investigate, organisations, ratings, rules'],
    ['/', 'Focus the search or filter box'],
    ['j / k', 'Next / previous row (alerts, incidents, campaigns, decisions) or timeline entry'],
    ['x', 'Select the current alert; on an incident, show its event'],
    ['Shift+X', 'Select all / none'],
    ['Enter', 'Open the current row'],
    ['a', 'Acknowledge the selected (or current) alerts or incident'],
    ['s', 'Set the current incident in progress'],
    ['c', 'Close the selected (or current) alerts or incident with a resolution'],
    ['m', 'Assign the selected (or current) alerts or incident to me'],
    ['e', 'On an incident: expand or collapse every event'],
    ['n', 'On Prevention: a new decision'],
    ['i', 'On Intel: import indicators'],
    ['u', 'Back to the list'],
    ['p', 'On a report card: the printable report; on a report: print'],
    ['Esc', 'Leave a field, close a dialog'],
    ['?', 'This help'],
  ];
  dialog({ title: 'Keyboard shortcuts', body: [h('table.grid.keys', h('tbody', rows.map(([k, t]) => h('tr', h('td', h('kbd', k)), h('td', t)))))], buttons: [{ label: 'Done', value: true, primary: true }] });
}

// Keyboard: view handlers first (latest registered wins), then global "g x"
// jumps and "?". Keys typed into fields are left alone, except Escape.
let pendingG = 0;
document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const t = ev.target;
  const typing = t instanceof HTMLElement && (t.isContentEditable || /^(TEXTAREA|SELECT)$/.test(t.tagName) ||
    (t.tagName === 'INPUT' && !/^(checkbox|radio|button|submit|reset)$/.test(t.type)));
  if (typing) {
    if (ev.key === 'Escape') t.blur();
    return;
  }
  if (document.querySelector('dialog[open]')) return;
  const k = ev.key;
  // Enter and space on a link or a button are theirs.
  if ((k === 'Enter' || k === ' ') && t instanceof HTMLElement && /^(A|BUTTON|SUMMARY|INPUT)$/.test(t.tagName)) return;
  if (pendingG && Date.now() - pendingG < 1500) {
    pendingG = 0;
    const to = { d: '', n: 'incidents', a: 'alerts', c: 'campaigns', p: 'decisions', t: 'intel', i: 'search', o: 'orgs', s: 'ratings', r: 'rules' }[k];
    if (to != null) {
      ev.preventDefault();
      navigate(BASE + to);
    }
    return;
  }
  for (let i = app.keys.length - 1; i >= 0; i--) {
    const fn = app.keys[i][k];
    if (fn) {
      ev.preventDefault();
      fn(ev);
      return;
    }
  }
  if (k === 'g') pendingG = Date.now();
  else if (k === '?') help();
});

// Links inside the console navigate without reloading the page.
document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest && ev.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin || !u.pathname.startsWith(BASE) || u.pathname.startsWith(BASE + 'assets/')) return;
  ev.preventDefault();
  navigate(u.pathname + u.search + u.hash);
});

window.addEventListener('popstate', render);

onUnauthenticated(() => {
  if (!app.me) return;
  signedOut();
  toast('Your session has ended. Please log in again.', 'error');
  const next = location.pathname + location.search;
  navigate(BASE + 'login?next=' + encodeURIComponent(next), { replace: true });
});

// The dark SOC theme unless the user chose the light one (or ?theme= asks).
setTheme(new URLSearchParams(location.search).get('theme') || localStorage.getItem('mamori.theme') || 'dark');
render();
