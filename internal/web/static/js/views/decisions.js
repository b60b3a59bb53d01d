// Prevention: the decisions in force (or, on demand, every decision ever
// made), each with where it applies, why, what made it and how long it
// still lasts; a new decision, revocation, and for national administrators
// the CrowdSec bouncers that enforce them, with their keys. An
// organisation's role sees the decisions that apply to it (its own, its
// sector's and national ones) and may target only its own organisation.

import { h, replace, num, timeEl, ago, debounce, copy, $$ } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { sectorLabel } from '../lib/charts.js';
import { panel, table, errorBox, spinner, toast, confirm, dialog } from '../lib/ui.js';
import { TYPES, ORIGINS, stateBadge, decisionState, timeLeft, targetLabel, targetKind, originLink, decisionDialog, loadOrgs, blockedToast, isAddress } from '../lib/prevent.js';

const TARGETS = [['', 'Any target'], ['org', 'Organisation'], ['sector', 'Sector'], ['national', 'National']];

export function mount(ctx) {
  ctx.title('Prevention');
  const me = ctx.me;
  const can = me.can || {};
  const national = !me.org_id;
  let q = ctx.query;
  let all = null; // decisions loaded
  let total = 0;
  let rows = [];
  let cursor = -1;
  let orgList = [];
  let orgs = new Map();
  let alive = true;
  let ctl = new AbortController();

  const text = h('input#dc-q', { type: 'search', placeholder: 'Filter by value, reason, campaign, user  ( / )', 'aria-label': 'Filter decisions', value: q.get('q') || '',
    title: 'An address or a range also finds the ranges that contain it' });
  text.addEventListener('input', debounce(() => ctx.setQuery({ q: text.value.trim() }, { replace: true }), 300));
  const typeSel = h('select#dc-type', { 'aria-label': 'Type', onchange: () => ctx.setQuery({ type: typeSel.value }) }, h('option', { value: '' }, 'Any type'), TYPES.map(([v, t]) => h('option', { value: v }, t)));
  const targetSel = h('select#dc-target', { 'aria-label': 'Target', onchange: () => ctx.setQuery({ target: targetSel.value }) }, TARGETS.map(([v, t]) => h('option', { value: v }, t)));
  const originSel = h('select#dc-origin', { 'aria-label': 'Origin', onchange: () => ctx.setQuery({ origin: originSel.value }) }, h('option', { value: '' }, 'Any origin'), ORIGINS.map(([v, t]) => h('option', { value: v }, t)));
  const allBtn = h('button.chip#dc-all', { type: 'button', title: 'Show revoked and expired decisions too', onclick: () => ctx.setQuery({ all: q.get('all') ? '' : '1' }) }, 'Include revoked and expired');
  const count = h('span.count#dc-count');
  const newBtn = can.triage ? h('button.primary#dc-new', { type: 'button', title: 'New decision (n)', onclick: () => create() }, 'New decision…') : null;
  const tableWrap = h('div.table-wrap#dc-table', spinner());
  const bouncers = national && can.admin ? h('div#bouncers-body', spinner()) : null;

  replace(ctx.root,
    h('div.page-head', h('h1', 'Prevention'), h('div.page-tools', count, newBtn)),
    h('p.note.page-intro', national
      ? 'Decisions block an address, a range or a domain for a time, in one organisation, a sector or the whole nation. The organisations’ CrowdSec bouncers (firewalls, proxies, DNS filters) enforce the decisions that apply to them.'
      : 'Decisions block an address, a range or a domain for a time. Your CrowdSec bouncers enforce those listed here: your organisation’s, your sector’s and the national ones. You may make decisions for your own organisation.'),
    h('div.filters', h('div.filter-row', text, typeSel, targetSel, originSel, allBtn)),
    tableWrap,
    bouncers ? panel('Bouncers: the enforcement points', [bouncerForm(), bouncers], { cls: 'p-bouncers', id: 'bouncers' }) : null);

  loadOrgs().catch(() => []).then((list) => {
    orgList = list;
    orgs = new Map(list.map((o) => [o.id, o]));
    if (!alive) return;
    if (all) draw();
    $$('select.org-pick', ctx.root).forEach(fillOrgs);
    if (bouncers) loadBouncers();
  });

  // serverValue: an address or a range is asked of the server, which finds
  // every decision overlapping it; other text filters in the browser.
  const serverValue = () => (isAddress(q.get('q') || '') ? q.get('q') : '');

  async function load() {
    ctl.abort();
    ctl = new AbortController();
    try {
      const r = await api('decisions', { query: { active: q.get('all') ? 'false' : 'true', value: serverValue(), limit: 1000 }, signal: ctl.signal });
      if (!alive) return;
      all = r.decisions || [];
      total = r.total ?? all.length;
      draw();
    } catch (e) {
      if (e.name === 'AbortError' || !alive) return;
      replace(tableWrap, errorBox(e.missing || e.status === 503 ? new Error('Decisions are not available on this server.') : e));
    }
  }

  function sync() {
    if (document.activeElement !== text) text.value = q.get('q') || '';
    typeSel.value = q.get('type') || '';
    targetSel.value = q.get('target') || '';
    originSel.value = q.get('origin') || '';
    allBtn.setAttribute('aria-pressed', String(!!q.get('all')));
  }

  function filtered() {
    const needle = serverValue() ? '' : (q.get('q') || '').toLowerCase();
    return all.filter((d) => (!q.get('type') || d.type === q.get('type')) && (!q.get('target') || targetKind(d.target) === q.get('target')) &&
      (!q.get('origin') || d.origin === q.get('origin')) &&
      (!needle || [d.value, d.reason, d.origin_ref, d.created_by, d.target.org, (orgs.get(d.target.org) || {}).name, d.target.sector, String(d.id)]
        .some((v) => v && String(v).toLowerCase().includes(needle))));
  }

  const mayRevoke = (d) => can.triage && decisionState(d) === 'active' && (national || d.target.org === me.org_id);

  const cols = [
    { cls: 'value', head: 'Value', td: (d) => [h('a.alert-link.mono', { href: `/ui/decisions/${d.id}`, onclick: () => remember(d.id) }, d.value), h('div.sub', d.scope, ' · #', String(d.id))] },
    { cls: 'type', head: 'Type', td: (d) => [h('span.badge.dtype', { class: 'dt-' + d.type }, d.type), ' ', decisionState(d) !== 'active' || d.dry_run ? stateBadge(d) : null] },
    { cls: 'target', head: 'Applies to', td: (d) => targetLabel(d.target, orgs) },
    { cls: 'reason', head: 'Reason', td: (d) => h('span', { title: d.reason }, d.reason) },
    { cls: 'origin', head: 'Origin', td: (d) => originLink(d, national) },
    { cls: 'by', head: 'Made by', td: (d) => [h('div', d.created_by || '—'), h('div.sub', timeEl(d.created))] },
    { cls: 'left', head: 'Time left', td: (d) => timeLeft(d) },
    can.triage ? { cls: 'actions', head: '', td: (d) => (mayRevoke(d) ? h('button.small.danger.revoke', { type: 'button', dataset: { id: String(d.id) }, onclick: () => revoke(d) }, 'Revoke') : null) } : null,
  ].filter(Boolean);

  function draw() {
    rows = filtered();
    const last = Number(sessionStorage.getItem('mamori.decisions.last'));
    cursor = rows.length ? Math.max(0, rows.findIndex((d) => d.id === last)) : -1;
    const tbody = h('tbody', rows.map((d, i) => h('tr', { dataset: { id: String(d.id), i: String(i), value: d.value, state: decisionState(d) }, class: [i === cursor ? 'cursor' : '', decisionState(d) !== 'active' ? 'ended' : ''].join(' '),
      onclick: (e) => { if (!e.target.closest('a,button')) setCursor(i); }, ondblclick: () => open(d.id) },
    cols.map((c) => h('td', { class: c.cls }, c.td(d))))));
    if (!rows.length) {
      tbody.append(h('tr.empty-row', h('td', { colspan: cols.length }, all.length ? 'No decision matches these filters.'
        : q.get('all') ? 'No decision has been made yet.' : 'No decision is in force.')));
    }
    replace(tableWrap, h('table.grid.queue.decisions', h('thead', h('tr', cols.map((c) => h('th', { class: c.cls, scope: 'col' }, c.head)))), tbody));
    const word = q.get('all') ? 'decision' : 'active decision';
    replace(count, `${num(total)} ${word}${total === 1 ? '' : 's'}`, rows.length < total ? ` · ${num(rows.length)} shown` : '');
  }

  function setCursor(i) {
    if (!rows.length) return;
    cursor = Math.max(0, Math.min(rows.length - 1, i));
    $$('tbody tr[data-id]', tableWrap).forEach((tr) => tr.classList.toggle('cursor', Number(tr.dataset.i) === cursor));
    const tr = $$(`tbody tr[data-i="${cursor}"]`, tableWrap)[0];
    if (tr) tr.scrollIntoView({ block: 'nearest' });
  }

  const remember = (id) => sessionStorage.setItem('mamori.decisions.last', String(id));
  function open(id) {
    remember(id);
    ctx.navigate(`/ui/decisions/${id}`);
  }

  async function create() {
    if (!can.triage) return;
    const d = await decisionDialog(me, { orgs: orgList.length ? orgList : null });
    if (!d || !alive) return;
    remember(d.id);
    blockedToast(d);
    load();
  }

  async function revoke(d) {
    const where = targetLabel(d.target, orgs);
    if (!(await confirm('Revoke the decision', `Revoke the ${d.type} of ${d.value} (${where.textContent})? The bouncers stop enforcing it at their next pull.`, 'Revoke', true))) return;
    try {
      await api(`decisions/${d.id}`, { method: 'DELETE' });
      toast(`Decision on ${d.value} revoked.`, 'ok');
    } catch (e) {
      toast(e.message, 'error');
    }
    if (alive) load();
  }

  // Bouncers (national administrators): the enforcement points and their keys.
  async function loadBouncers() {
    try {
      const r = await api('bouncers');
      if (!alive) return;
      const list = (r.bouncers || []).slice().sort((a, b) => a.name.localeCompare(b.name));
      replace(bouncers, table([
        { label: 'Name', render: (b) => h('strong', b.name) },
        { label: 'Organisation', render: (b) => (b.org ? (orgs.get(b.org) || {}).name || b.org : h('span.note', 'national enforcement point')) },
        { label: 'Created', render: (b) => timeEl(b.created) },
        { label: 'Last pull', render: (b) => (b.last_pull ? h('time', { datetime: b.last_pull, title: b.last_pull }, ago(b.last_pull)) : h('span.note', 'never')) },
        { label: 'From', cls: 'mono', render: (b) => b.last_ip || '—' },
        { label: 'Software', render: (b) => h('span.ua', { title: b.last_user_agent || '' }, b.last_user_agent || '—') },
        { label: '', cls: 'actions', render: (b) => h('button.small.danger', { type: 'button', dataset: { bouncer: b.name }, onclick: () => delBouncer(b.name) }, 'Delete') },
      ], list, { cls: 'compact', emptyText: 'No bouncer yet: create a key for each enforcement point.', rowAttrs: (b) => ({ dataset: { bouncer: b.name } }) }));
    } catch (e) {
      if (alive) replace(bouncers, errorBox(e));
    }
  }

  function fillOrgs(sel) {
    const v = sel.value;
    replace(sel, h('option', { value: '' }, 'National enforcement point'), orgList.map((o) => h('option', { value: o.id }, `${o.name} (${sectorLabel(o.sector)})`)));
    sel.value = v;
  }

  function bouncerForm() {
    const name = h('input#b-name', { placeholder: 'Bouncer name, e.g. fw-health-edge', required: true, autocomplete: 'off', 'aria-label': 'Bouncer name' });
    const org = h('select.org-pick#b-org', { 'aria-label': 'Organisation it protects' });
    fillOrgs(org);
    const err = h('p.form-error', { role: 'alert' });
    return [h('p.note', 'Each organisation’s bouncer receives the decisions that cover that organisation; a national enforcement point receives national decisions only.'),
      h('form.inline-form', { onsubmit: async (ev) => {
        ev.preventDefault();
        replace(err);
        try {
          const r = await api('bouncers', { method: 'POST', body: { name: name.value.trim(), org: org.value } });
          const n = name.value.trim();
          name.value = '';
          loadBouncers();
          await keyDialog(n, r.key);
        } catch (e) {
          replace(err, e.message);
        }
      } }, name, org, h('button.primary#b-create', { type: 'submit' }, 'Create key'), err)];
  }

  async function delBouncer(name) {
    if (!(await confirm('Delete bouncer', `Delete the bouncer ${name}? Its key stops working at once and it no longer receives decisions.`, 'Delete', true))) return;
    try {
      await api(`bouncers/${encodeURIComponent(name)}`, { method: 'DELETE' });
      toast(`Bouncer ${name} deleted.`, 'ok');
    } catch (e) {
      toast(e.message, 'error');
    }
    if (alive) loadBouncers();
  }

  ctx.keys({
    j: () => setCursor(cursor + 1),
    k: () => setCursor(cursor - 1),
    ArrowDown: () => setCursor(cursor + 1),
    ArrowUp: () => setCursor(cursor - 1),
    Enter: () => rows[cursor] && open(rows[cursor].id),
    o: () => rows[cursor] && open(rows[cursor].id),
    n: () => create(),
    '/': () => text.focus(),
    r: () => load(),
  });

  sync();
  load();
  const timer = setInterval(() => {
    load();
    if (bouncers) loadBouncers();
  }, 60_000);
  return {
    update(nq) {
      const reload = (nq.get('all') || '') !== (q.get('all') || '') || (nq.get('q') || '') !== (q.get('q') || '');
      q = nq;
      sync();
      if (reload) load();
      else if (all) draw();
    },
    destroy() {
      alive = false;
      ctl.abort();
      clearInterval(timer);
    },
  };
}

// keyDialog shows a new bouncer key once, with the lines to put in the
// bouncer's configuration.
function keyDialog(name, key) {
  const snippet = `api_url: ${location.origin}/\napi_key: ${key}`;
  const copyBtn = (text, what) => h('button', { type: 'button', onclick: async () => toast((await copy(text)) ? `${what} copied.` : 'Copy failed: select the text.', 'ok') }, 'Copy');
  return dialog({
    title: `Key for ${name}`,
    cls: 'wide',
    body: [
      h('p', 'Copy the key now: it is shown only once and cannot be recovered.'),
      h('div.secret-box', h('code.secret#b-key', key), copyBtn(key, 'Key')),
      h('p', 'In the bouncer’s configuration (for example ', h('code', '/etc/crowdsec/bouncers/crowdsec-firewall-bouncer.yaml'), '), set:'),
      h('div.secret-box', h('pre.code.snippet#b-snippet', snippet), copyBtn(snippet, 'Configuration')),
      h('p.note', 'Nothing else changes: the CrowdSec firewall, nginx, Traefik, HAProxy and custom bouncers pull Mamori’s decisions as they would pull CrowdSec’s. To receive domain decisions, add scopes: [ip, range, domain].'),
    ],
    buttons: [{ label: 'I have copied it', value: true, primary: true }],
  });
}
