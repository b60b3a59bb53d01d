// Prevention and threat intelligence: the words, chips and forms that the
// decision, intel, campaign, alert and incident screens share. A decision
// blocks (or challenges, or slows down) an address, a range or a domain for
// a time, in one organisation, a sector or the whole nation; the CrowdSec
// bouncers of the organisations covered enforce it (docs/DECISIONS.md).

import { h, replace, ago, time } from './dom.js';
import { api } from './api.js';
import { SECTORS, sectorColour, sectorLabel } from './charts.js';
import { dialog, toast } from './ui.js';
import { duration } from './incident.js';

export const TYPES = [['ban', 'Ban'], ['captcha', 'Captcha'], ['throttle', 'Throttle']];
export const SCOPES = [['ip', 'IP address'], ['range', 'Range'], ['domain', 'Domain']];
export const ORIGINS = [['analyst', 'Analyst'], ['campaign', 'Campaign'], ['rule', 'Rule'], ['feed', 'Feed'], ['policy', 'Policy']];
export const DURATIONS = [['1h', '1 h'], ['4h', '4 h'], ['24h', '24 h'], ['7d', '7 days']];
export const TLPS = ['clear', 'green', 'amber', 'amber+strict', 'red'];

// tlpChip shows a Traffic Light Protocol marking in its FIRST colours
// (coloured text on black, as TLP 2.0 asks); "" is clear.
export function tlpChip(tlp) {
  const t = (tlp || 'clear').toLowerCase();
  return h('span.tlp', { class: 'tlp-' + t.replace('+', '-'), title: `TLP:${t.toUpperCase()}` }, 'TLP:' + t.toUpperCase());
}

// decisionState is "active", "revoked" or "expired" at now.
export function decisionState(d, now = Date.now()) {
  if (d.deleted) return 'revoked';
  return new Date(d.until).getTime() > now ? 'active' : 'expired';
}

export function stateBadge(d) {
  const s = decisionState(d);
  return [h('span.badge.dstate', { class: 'ds-' + s }, s), d.dry_run ? h('span.badge.dstate.ds-dry', { title: 'Recorded by a dry-run policy: never sent to bouncers' }, 'dry run') : null];
}

// timeLeft says how long an active decision still lasts, or when it ended.
export function timeLeft(d) {
  const s = decisionState(d);
  if (s === 'revoked') return h('span.note', { title: time(d.deleted) }, `revoked ${ago(d.deleted)}`);
  if (s === 'expired') return h('span.note', { title: time(d.until) }, `ended ${ago(d.until)}`);
  return h('time.left', { datetime: d.until, title: `until ${time(d.until)}` }, duration(new Date().toISOString(), d.until));
}

// targetLabel names where a decision applies; orgs maps ids to names.
export function targetLabel(t, orgs) {
  t = t || {};
  if (t.national) return h('span.target.t-national', { dataset: { target: 'national' } }, 'National');
  if (t.sector) return h('span.target.sector', { dataset: { target: 'sector:' + t.sector } }, h('span.dot', { style: { background: sectorColour(t.sector) } }), 'Sector ', sectorLabel(t.sector));
  if (t.org) {
    const o = orgs && orgs.get(t.org);
    return h('span.target', { dataset: { target: 'org:' + t.org }, title: t.org }, o ? o.name : t.org);
  }
  return '—';
}

export const targetKind = (t) => (!t ? '' : t.national ? 'national' : t.sector ? 'sector' : t.org ? 'org' : '');

// originLink shows what made a decision, linked where the console has a
// page for it: the campaign, the rule's alerts, the feed's indicators.
export function originLink(d, national) {
  const ref = d.origin_ref || '';
  const name = (ORIGINS.find(([k]) => k === d.origin) || [d.origin, d.origin || '—'])[1];
  let to = null;
  if (d.origin === 'campaign' && ref && national) to = h('a.mono', { href: `/ui/campaigns/${encodeURIComponent(ref)}` }, ref);
  else if (d.origin === 'rule' && ref) to = h('a.mono', { href: `/ui/alerts?rule_id=${encodeURIComponent(ref)}&status=all`, title: 'Alerts of this rule' }, ref);
  else if (d.origin === 'feed' && ref) to = h('a', { href: `/ui/intel?source=${encodeURIComponent(ref)}` }, ref);
  else if (ref && d.origin !== 'analyst') to = h('span.mono', ref);
  return h('span.origin', { dataset: { origin: d.origin || '' } }, h('span.tag', name), to);
}

// fromIntel reports whether an alert was raised by an indicator.
export const fromIntel = (a) => !!a && String(a.rule_id || '').startsWith('ioc:');

// intelBadge marks an alert raised by a threat intelligence indicator (its
// rule id is "ioc:<indicator id>"); linked, it opens the indicator.
export function intelBadge(a, linked = false) {
  if (!fromIntel(a)) return null;
  const title = 'Raised by a threat intelligence indicator';
  return linked ? h('a.badge.intel', { href: `/ui/intel?q=${encodeURIComponent(a.rule_id.slice(4))}`, title: `${title}: open it` }, 'threat intel')
    : h('span.badge.intel', { title }, 'threat intel');
}

// isPublicIP reports whether s is an address worth blocking at the edge:
// not private, loopback, link-local, shared (CGNAT), multicast or reserved.
export function isPublicIP(s) {
  s = String(s || '').trim();
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m) {
    const [a, b] = [Number(m[1]), Number(m[2])];
    if ([m[1], m[2], m[3], m[4]].some((x) => Number(x) > 255)) return false;
    return !(a === 0 || a === 10 || a === 127 || a >= 224 || (a === 100 && b >= 64 && b < 128) ||
      (a === 169 && b === 254) || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168));
  }
  if (!s.includes(':') || !/^[0-9a-f:.]+$/i.test(s)) return false;
  const low = s.toLowerCase();
  return !(low === '::' || low === '::1' || /^f[cd]/.test(low) || /^fe[89ab]/.test(low) || /^ff/.test(low) || low.startsWith('::ffff:'));
}

// isAddress reports whether v is written as an IP address or a CIDR range.
export const isAddress = (v) => /^(\d{1,3}\.){3}\d{1,3}(\/\d{1,2})?$/.test(v || '') || /^[0-9a-f]{0,4}:[0-9a-f:.]*(\/\d{1,3})?$/i.test(v || '');

// blockable tells whether a value is something a decision can hold: an
// address, a range or a domain.
export const blockable = (v) => isAddress(v) || /^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.[a-z][a-z0-9-]*\.?$/i.test(v || '');

// durationPicker is the row of duration chips (and a custom duration);
// value() is what the API takes ("4h", "7d", "90m").
export function durationPicker(prefix, initial = '24h') {
  let cur = DURATIONS.some(([v]) => v === initial) ? initial : 'custom';
  const custom = h('input.mono', { id: prefix + '-custom', placeholder: 'e.g. 90m, 12h, 30d', size: 12, 'aria-label': 'Custom duration', value: cur === 'custom' ? initial : '' });
  const chips = [...DURATIONS, ['custom', 'Custom…']].map(([v, t]) => h('button.chip', { type: 'button', dataset: { duration: v }, onclick: () => set(v) }, t));
  const set = (v, focus = true) => {
    cur = v;
    chips.forEach((c) => c.setAttribute('aria-pressed', String(c.dataset.duration === v)));
    custom.hidden = v !== 'custom';
    if (v === 'custom' && focus) custom.focus();
  };
  set(cur, false);
  return { el: h('div.chips.durations', { id: prefix + '-durations', role: 'group', 'aria-label': 'Duration' }, chips, custom), value: () => (cur === 'custom' ? custom.value.trim() : cur) };
}

// loadOrgs returns the organisations the caller may see, sorted by name.
export async function loadOrgs() {
  const r = await api('orgs');
  return (r.orgs || []).slice().sort((a, b) => a.name.localeCompare(b.name));
}

// decisionDialog asks for a new decision and makes it. National roles
// target an organisation, a sector or the nation; an organisation's role
// only its own organisation. The server's refusal (an invalid or
// allowlisted value...) is shown in the dialog, which stays open. It
// resolves with the decision made, or null.
export async function decisionDialog(me, { value = '', values = [], type = 'ban', duration: dur = '24h', target = null, reason = '', orgs = null } = {}) {
  const national = !me.org_id;
  if (!orgs) orgs = await loadOrgs().catch(() => []);
  const valueIn = h('input#d-value.mono', { required: true, autocomplete: 'off', spellcheck: 'false', placeholder: '203.0.113.7, 198.51.100.0/24 or evil.example', value, list: values.length ? 'd-values' : null, 'aria-label': 'Value' });
  const scopeSel = h('select#d-scope', { 'aria-label': 'Scope' }, h('option', { value: '' }, 'From the value'), SCOPES.map(([v, t]) => h('option', { value: v }, t)));
  const typeSel = h('select#d-type', { 'aria-label': 'Type' }, TYPES.map(([v, t]) => h('option', { value: v, selected: v === type }, t)));
  const picker = durationPicker('d', dur);
  const kinds = national ? [['org', 'An organisation'], ['sector', 'A sector'], ['national', 'The whole nation']] : [['org', 'Your organisation']];
  const kindSel = h('select#d-target-kind', { 'aria-label': 'Applies to', disabled: !national }, kinds.map(([v, t]) => h('option', { value: v }, t)));
  const mine = orgs.filter((o) => national || o.id === me.org_id);
  if (!mine.length && me.org_id) mine.push({ id: me.org_id, name: me.org_id });
  const orgSel = h('select#d-org', { 'aria-label': 'Organisation', disabled: !national }, national ? h('option', { value: '' }, 'Organisation…') : null, mine.map((o) => h('option', { value: o.id }, o.name)));
  const sectorSel = h('select#d-sector', { 'aria-label': 'Sector' }, h('option', { value: '' }, 'Sector…'), SECTORS.map((s) => h('option', { value: s }, sectorLabel(s))));
  const cover = h('p.note#d-cover');
  const reasonIn = h('textarea#d-reason', { rows: 3, required: true, maxlength: 1000, placeholder: 'Why it is blocked (the bouncers see it as “mamori: <reason>”)', 'aria-label': 'Reason' }, reason);
  const t = target || {};
  kindSel.value = national ? targetKind(t) || 'org' : 'org';
  if (t.org) orgSel.value = t.org;
  if (!national) orgSel.value = me.org_id;
  if (t.sector) sectorSel.value = t.sector;
  const sync = () => {
    const k = kindSel.value;
    orgSel.hidden = k !== 'org';
    sectorSel.hidden = k !== 'sector';
    const o = orgs.find((x) => x.id === orgSel.value);
    replace(cover, k === 'national' ? 'Every organisation’s bouncers, and the national enforcement points, enforce it.'
      : k === 'sector' ? (sectorSel.value ? `The bouncers of every ${sectorLabel(sectorSel.value)} organisation enforce it.` : 'The bouncers of every organisation of the sector enforce it.')
        : o ? `The bouncers of ${o.name} enforce it.` : 'The bouncers of the organisation enforce it.');
  };
  kindSel.addEventListener('change', sync);
  orgSel.addEventListener('change', sync);
  sectorSel.addEventListener('change', sync);
  sync();
  const body = [
    h('label', 'Value', valueIn, values.length ? h('datalist#d-values', values.map((v) => h('option', { value: v }))) : null),
    h('div.form-row', h('label', 'Type', typeSel), h('label', 'Scope', scopeSel)),
    h('div.label-group', h('span.label', 'Duration'), picker.el),
    h('div.label-group', h('span.label', 'Applies to'), h('div.form-row', kindSel, orgSel, sectorSel), cover),
    h('label', 'Reason', reasonIn),
  ];
  return dialog({
    title: 'New decision',
    cls: 'wide',
    body,
    buttons: [{ label: 'Make the decision', value: 'create', primary: true }],
    validate: () => {
      if (!valueIn.value.trim()) return 'Enter an IP address, a CIDR range or a domain.';
      if (!picker.value()) return 'Choose a duration, or enter one such as 90m, 12h or 30d.';
      if (kindSel.value === 'org' && !orgSel.value) return 'Choose the organisation.';
      if (kindSel.value === 'sector' && !sectorSel.value) return 'Choose the sector.';
      if (!reasonIn.value.trim()) return 'Say why it is blocked: the reason is required.';
      return '';
    },
    submit: () => {
      const k = kindSel.value;
      const tgt = k === 'national' ? { national: true } : k === 'sector' ? { sector: sectorSel.value } : { org: orgSel.value };
      return api('decisions', { method: 'POST', body: { type: typeSel.value, scope: scopeSel.value, value: valueIn.value.trim(), duration: picker.value(), target: tgt, reason: reasonIn.value.trim() } });
    },
  });
}

// blockButton opens the decision dialog for the values of an alert or an
// incident (its public source addresses), targeting its organisation.
export function blockButton(me, { id, label, values, org, reason }) {
  return h('button', { type: 'button', id, title: `Block ${values[0]} with a decision`, onclick: async () => {
    const d = await decisionDialog(me, { value: values[0], values, target: { org }, reason });
    if (d) blockedToast(d);
  } }, label);
}

// blockedToast announces a decision made, with a link to it.
export function blockedToast(d) {
  toast(h('span', `Decision made: ${d.type} ${d.value} · `, h('a', { href: `/ui/decisions/${d.id}` }, 'open it')), 'ok');
}
