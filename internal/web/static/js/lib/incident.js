// Incidents and campaigns: the kill-chain strip, the campaign badge, the
// entity pivots and the words the incident and campaign screens share.

import { h, ago, time } from './dom.js';
import { TACTICS, tacticLabel } from './attack.js';
import { searchURL } from './ui.js';

export const SEVERITIES = ['critical', 'high', 'medium', 'low'];
export const OPEN = ['new', 'acknowledged', 'in_progress'];
export const SEVERITY_RANK = { critical: 4, high: 3, medium: 2, low: 1 };

// ENTITIES are the kinds of entity an incident collects: [key, label,
// event field to pivot on (null: free text)].
export const ENTITIES = [['host', 'Host', 'host'], ['user', 'User', null], ['src_ip', 'Source IP', null]];

// SHORT names the tactics where space is tight.
const SHORT = { reconnaissance: 'Recon', 'resource-development': 'Resource Dev.', 'privilege-escalation': 'Privilege Esc.', 'defense-evasion': 'Defense Evasion',
  'credential-access': 'Credential Access', 'lateral-movement': 'Lateral Movement', 'command-and-control': 'C2', exfiltration: 'Exfil\u00adtration' };

// stageStrip shows the fourteen ATT&CK tactics in kill-chain order, lit
// where the incident has reached; large adds the tactic names under it.
export function stageStrip(stages, { large = false } = {}) {
  const have = new Set(stages || []);
  const names = (stages || []).map(tacticLabel);
  const text = names.length ? names.join(' → ') : 'no ATT&CK stage';
  return h('div.killchain', { class: large ? 'large' : '', role: 'img', 'aria-label': `Kill chain: ${text}`, title: large ? null : text },
    TACTICS.map(([k, name]) => h('span.kc', { class: have.has(k) ? 'on' : '', dataset: { stage: k }, title: large ? name : null },
      large ? h('span.kc-name', SHORT[k] || name) : null)));
}

// campaignBadge marks an incident that belongs to a campaign: a link to it
// where the caller may see its id (national roles), else a plain mark.
export function campaignBadge(inc) {
  if (inc.campaign_id) {
    return h('a.badge.campaign', { href: `/ui/campaigns/${encodeURIComponent(inc.campaign_id)}`, title: `Part of campaign ${inc.campaign_id}` }, 'campaign');
  }
  if (inc.in_campaign) return h('span.badge.campaign', { title: 'Part of a campaign seen across organisations' }, 'campaign');
  return null;
}

// shortTime is a <time> for dense tables: the clock today, else the date
// and the minute; the full time is its tooltip.
export function shortTime(t) {
  if (!t) return '—';
  const full = time(t);
  const today = time(new Date()).slice(0, 10);
  return h('time', { datetime: t, title: `${full} (${ago(t)})` }, full.slice(0, 10) === today ? full.slice(11) : full.slice(5, 16));
}

// age is the time since t without "ago": "5 min", "3 h".
export const age = (t) => (t ? ago(t).replace(/ ago$/, '') : '—');

// duration formats the span between two timestamps: "42 s", "3 h 5 min", "2 d 4 h".
export function duration(from, to) {
  const s = Math.max(0, Math.round((new Date(to).getTime() - new Date(from).getTime()) / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hrs = Math.floor(m / 60);
  if (hrs < 24) return `${hrs} h${m % 60 ? ` ${m % 60} min` : ''}`;
  return `${Math.floor(hrs / 24)} d${hrs % 24 ? ` ${hrs % 24} h` : ''}`;
}

// entityPivots renders one entity value with its pivots: events in the
// Investigate search (around since) and alerts in the queue.
export function entityPivots(kind, value, since, org) {
  const field = (ENTITIES.find(([k]) => k === kind) || [])[2] || null;
  const q = new URLSearchParams({ q: value, status: 'all' });
  if (org) q.set('org', org);
  return h('span.entity', { dataset: { kind } },
    h('a.pv', { href: searchURL({ field, value, since }), title: field ? `Search events where ${field} = ${value}` : `Search events containing ${value}` }, value),
    h('a.ent-alerts', { href: `/ui/alerts?${q}`, title: `Alerts mentioning ${value}` }, 'alerts'));
}

// indicatorPivot is where an indicator of a campaign leads: a rule's
// alerts, or an event search for the value.
export function indicatorPivot(ind, since = '720h') {
  if (ind.kind === 'rule') return { href: `/ui/alerts?rule_id=${encodeURIComponent(ind.value)}&status=all`, title: 'Alerts of this rule' };
  return { href: searchURL({ value: ind.value, since }), title: `Search events containing ${ind.value}` };
}

// INDICATOR_KINDS names indicator kinds, in display order.
export const INDICATOR_KINDS = [['ip', 'IP', 'IPs'], ['net', 'network', 'networks'], ['domain', 'domain', 'domains'], ['hash', 'hash', 'hashes'], ['rule', 'rule', 'rules']];

// indicatorSummary counts indicators by kind: "3 IPs · 1 hash".
export function indicatorSummary(list) {
  const n = {};
  for (const i of list || []) n[i.kind] = (n[i.kind] || 0) + 1;
  const known = INDICATOR_KINDS.map(([k]) => k);
  const kinds = [...known.filter((k) => n[k]), ...Object.keys(n).filter((k) => !known.includes(k)).sort()];
  return kinds.map((k) => {
    const d = INDICATOR_KINDS.find(([x]) => x === k) || [k, k, k + 's'];
    return `${n[k]} ${n[k] === 1 ? d[1] : d[2]}`;
  }).join(' · ');
}
