// The alert detail: what fired (the rule, its author and Sigma source), on
// what (the event's fields, each a pivot into the investigation search),
// related alerts, the comments and the audit trail, and the triage controls
// for roles that may triage, with a decision that blocks a public source (or
// the indicator a threat intelligence match found).

import { h, replace, num, time, timeEl, levelBadge, statusBadge, label, empty, STATUSES, RESOLUTIONS } from '../lib/dom.js';
import { api, pages, stream } from '../lib/api.js';
import { sectorColour, sectorLabel } from '../lib/charts.js';
import { techniqueName, techniqueURL, tacticLabel } from '../lib/attack.js';
import { panel, table, pivot, searchURL, errorBox, spinner, toast } from '../lib/ui.js';
import * as triage from '../lib/triage.js';
import { isPublicIP, blockable, blockButton, intelBadge, fromIntel } from '../lib/prevent.js';
import { lastQueue } from './queue.js';

export function mount(ctx) {
  const id = ctx.params.id;
  const me = ctx.me;
  const can = me.can || {};
  let alive = true;
  let data = null; // {alert, rule, audit, comments, related, partial}
  ctx.title('Alert');
  replace(ctx.root, spinner());

  async function load() {
    try {
      const d = await fetchAlert(id);
      if (!alive) return;
      data = d;
      if (!d) return notFound();
      draw();
    } catch (e) {
      if (alive) replace(ctx.root, errorBox(e));
    }
  }

  function notFound() {
    ctx.title('Alert not found');
    replace(ctx.root, h('div.notfound#alert-notfound', h('h1', 'Alert not found'),
      h('p', 'There is no alert ', h('code', id), ' in the organisations you may see.'),
      h('a', { href: lastQueue() }, '← Back to the queue')));
  }

  function draw() {
    const { alert: a, rule } = data;
    ctx.title(a.rule_title);
    const since = new Date(new Date(a.first_seen).getTime() - 24 * 3600_000).toISOString();
    replace(ctx.root,
      h('div.page-head.alert-head',
        h('div', h('a.back', { href: lastQueue() }, '← Queue'),
          h('h1#alert-title', levelBadge(a.level), ' ', a.rule_title),
          h('p.alert-meta', statusBadge(a.status), ' ',
            h('span.sector', h('span.dot', { style: { background: sectorColour(a.sector) } }), h('a', { href: `/ui/orgs/${encodeURIComponent(a.org_id)}` }, a.org || a.org_id), ' · ', sectorLabel(a.sector)),
            ' · ', num(a.count), ` hit${a.count === 1 ? '' : 's'} · first `, timeEl(a.first_seen), ' · last ', timeEl(a.last_seen),
            a.correlation ? h('span.tag', 'correlation') : null, intelBadge(a, true))),
        h('div.page-tools', blockTools(a), h('code.alert-id', a.id))),
      h('div.detail',
        h('div.detail-main',
          panel('Who and where', entities(a, since), { cls: 'p-entities' }),
          panel('Event', eventTable(a.event, since), { cls: 'p-event', id: 'event-fields' }),
          panel('Rule', ruleBox(a, rule), { cls: 'p-rule', id: 'rule' }),
          panel('Related alerts (same host, user or source)', related(data.related), { cls: 'p-related' })),
        h('aside.detail-side',
          panel('Triage', triageBox(a), { cls: 'p-triage', id: 'triage' }),
          panel('Comments', comments(), { cls: 'p-comments', id: 'comments' }),
          panel('Audit trail', audit(), { cls: 'p-audit', id: 'audit' }))));
  }

  // blockTools offers a decision on the alert's public source address and,
  // for a threat intelligence match, on the value the indicator matched.
  function blockTools(a) {
    if (!can.triage || data.partial) return null;
    const who = a.org || a.org_id;
    const iv = a.event && typeof a.event['ioc.value'] === 'string' ? a.event['ioc.value'] : '';
    return [
      isPublicIP(a.src_ip) ? blockButton(me, { id: 'block-source', label: 'Block source…', values: [a.src_ip], org: a.org_id,
        reason: `Source of “${a.rule_title}” at ${who} (alert ${a.id})` }) : null,
      fromIntel(a) && iv && blockable(iv) && iv !== a.src_ip ? blockButton(me, { id: 'block-ioc', label: 'Block indicator…', values: [iv], org: a.org_id,
        reason: `Threat intelligence match at ${who}: ${iv}${a.event['ioc.source'] ? ` (source ${a.event['ioc.source']})` : ''} (alert ${a.id})` }) : null,
    ];
  }

  function entities(a, since) {
    const row = (k, v, field) => h('div.kv', h('dt', k), h('dd', v ? pivot(v, field, since) : '—'));
    // Where an address is, from the GeoIP enrichment: country and AS.
    const where = (country, asn, org) => [country, asn ? `AS${asn}${org ? ' ' + org : ''}` : ''].filter(Boolean).join(' · ');
    const ipRow = (k, ip, country, asn, org) => h('div.kv', h('dt', k), h('dd', ip ? pivot(ip, null, since) : '—',
      ip && where(country, asn, org) ? h('span.muted', ` ${where(country, asn, org)}`) : null));
    return h('dl.kvs', row('Host', a.host, 'host'), row('User', a.user),
      ipRow('Source IP', a.src_ip, a.src_country, a.src_asn, a.src_as_org),
      a.dst_ip ? ipRow('Destination IP', a.dst_ip, a.dst_country, a.dst_asn, a.dst_as_org) : null,
      h('div.kv', h('dt', 'ATT&CK'), h('dd', (a.techniques || []).length ? (a.techniques || []).map((t) =>
        h('a.tech', { href: techniqueURL(t), target: '_blank', rel: 'noopener noreferrer', title: techniqueName(t) }, t, techniqueName(t) ? ` ${techniqueName(t)}` : '')) : '—',
      (a.tactics || []).length ? h('div.tactics', (a.tactics || []).map((t) => h('span.tag', tacticLabel(t)))) : null)),
      h('div.kv', h('dt', 'More'), h('dd',
        h('a', { href: `/ui/alerts?rule_id=${encodeURIComponent(a.rule_id)}&status=all` }, 'all alerts of this rule'), ' · ',
        h('a', { href: `/ui/search?since=${encodeURIComponent(since)}&org=${encodeURIComponent(a.org_id)}${a.host ? '&field=' + encodeURIComponent('host:' + a.host) : ''}` }, 'events of this host'))));
  }

  function eventTable(ev, since) {
    const names = Object.keys(ev || {}).sort((x, y) => x.localeCompare(y));
    if (!names.length) return empty(data.partial ? 'The triggering event is not available.' : 'No event fields.');
    return h('table.grid.fields', h('tbody', names.map((n) => {
      const v = ev[n];
      const vals = Array.isArray(v) ? v : [v];
      return h('tr', h('th', { scope: 'row' }, n), h('td', vals.map((x) => h('div.fv', pivot(x, n, since)))));
    })));
  }

  function ruleBox(a, r) {
    r = r || {};
    const tags = r.tags || [];
    return h('div.rule',
      h('h3', r.title || a.rule_title),
      h('dl.kvs',
        h('div.kv', h('dt', 'Author'), h('dd#rule-author', r.author || a.rule_author || 'unknown')),
        h('div.kv', h('dt', 'Level'), h('dd', levelBadge(r.level || a.level))),
        h('div.kv', h('dt', 'Rule id'), h('dd', h('a', { href: `/ui/rules?q=${encodeURIComponent(a.rule_id)}` }, h('code', a.rule_id)))),
        h('div.kv', h('dt', 'Licence'), h('dd', 'Sigma rules are shared under the ', h('a', { href: 'https://github.com/SigmaHQ/Detection-Rule-License', target: '_blank', rel: 'noopener noreferrer' }, 'Detection Rule License (DRL) 1.1'), ', which requires crediting the author above.'))),
      r.description ? h('p.rule-desc', r.description) : null,
      (r.falsepositives || []).length ? h('div', h('h4', 'False positives'), h('ul', r.falsepositives.map((f) => h('li', f)))) : null,
      (r.references || []).length ? h('div', h('h4', 'References'), h('ul', r.references.map((u) => h('li', /^https?:\/\//.test(u) ? h('a', { href: u, target: '_blank', rel: 'noopener noreferrer' }, u) : u)))) : null,
      tags.length ? h('p', tags.map((t) => h('span.tag', t))) : null,
      r.source ? h('details.sigma', h('summary', 'Sigma source'), h('pre.code#sigma-source', r.source)) : h('p.note', data.partial ? 'Rule details are not available on this server.' : 'No Sigma source.'));
  }

  function related(list) {
    if (list == null) return empty('Related alerts: not available on this server.');
    return table([
      { label: 'Level', render: (x) => levelBadge(x.level) },
      { label: 'Alert', render: (x) => h('a', { href: `/ui/alerts/${encodeURIComponent(x.id)}` }, x.rule_title) },
      { label: 'Organisation', render: (x) => x.org || x.org_id },
      { label: 'Host', render: (x) => x.host || '—' },
      { label: 'Status', render: (x) => statusBadge(x.status) },
      { label: 'Last seen', render: (x) => timeEl(x.last_seen) },
    ], list, { emptyText: 'No related alerts.', cls: 'compact' });
  }

  function triageBox(a) {
    const facts = h('dl.kvs',
      h('div.kv', h('dt', 'Status'), h('dd#t-status', statusBadge(a.status))),
      h('div.kv', h('dt', 'Assignee'), h('dd#t-assignee', a.assignee || 'nobody')),
      h('div.kv', h('dt', 'Resolution'), h('dd#t-resolution', a.resolution ? label(a.resolution) : '—')),
      a.updated ? h('div.kv', h('dt', 'Updated'), h('dd', timeEl(a.updated))) : null);
    if (!can.triage) return h('div', facts, h('p.note', 'Your role may read alerts but not triage them.'));
    if (data.partial && !data.canWrite) return h('div', facts, h('p.note', 'Triage is not available on this server yet.'));
    const status = h('select#t-status-sel', { 'aria-label': 'Status' }, STATUSES.map((s) => h('option', { value: s, selected: s === a.status }, label(s))));
    const resolution = h('select#t-resolution-sel', { 'aria-label': 'Resolution' }, h('option', { value: '' }, '—'),
      RESOLUTIONS.map((r) => h('option', { value: r, selected: r === a.resolution }, label(r))));
    const assignee = h('input#t-assignee-in', { value: a.assignee || '', 'aria-label': 'Assignee', list: 'assignees-d' });
    const comment = h('textarea#t-comment', { rows: 3, placeholder: 'Comment (recorded in the audit trail)' });
    const err = h('p.form-error', { role: 'alert' });
    const resRow = h('label', 'Resolution (to close)', resolution);
    const sync = () => (resRow.hidden = status.value !== 'closed');
    status.addEventListener('change', sync);
    sync();
    const save = async (body) => {
      replace(err);
      if (body.status === 'closed' && !body.resolution) return replace(err, 'Choose a resolution to close the alert.');
      try {
        const [r] = await triage.change([a.id], body);
        if (!r.ok) return replace(err, r.error || 'Refused.');
        toast('Saved.', 'ok');
        load();
      } catch (e) {
        replace(err, e.message);
      }
    };
    const quick = (text, idSuffix, body, when) => (when ? h('button', { type: 'button', id: 't-' + idSuffix, onclick: () => save(body) }, text) : null);
    return h('div.triage', facts,
      h('div.quick',
        quick('Acknowledge', 'ack', { status: 'acknowledged' }, a.status === 'new'),
        quick('Start', 'start', { status: 'in_progress' }, a.status === 'new' || a.status === 'acknowledged'),
        quick('Assign to me', 'assign', { assignee: me.user }, a.assignee !== me.user),
        quick('Reopen', 'reopen', { status: 'acknowledged' }, a.status === 'closed'),
        a.status !== 'closed' ? h('button.primary', { type: 'button', id: 't-close', onclick: async () => {
          const res = await triage.run('close', [a.id], me);
          if (res && res.some((r) => r.ok)) load();
        } }, 'Close…') : null),
      h('form.triage-form', { onsubmit: (ev) => {
        ev.preventDefault();
        const body = {};
        if (status.value !== a.status) body.status = status.value;
        if (status.value === 'closed' && resolution.value !== (a.resolution || '')) body.resolution = resolution.value;
        if (status.value === 'closed' && !body.resolution && a.status !== 'closed') body.resolution = resolution.value;
        if (assignee.value.trim() !== (a.assignee || '')) body.assignee = assignee.value.trim();
        if (comment.value.trim()) body.comment = comment.value.trim();
        if (!Object.keys(body).length) return replace(err, 'Nothing to save.');
        save(body);
      } },
      h('label', 'Status', status), resRow, h('label', 'Assignee', assignee), h('datalist#assignees-d', h('option', { value: me.user })),
      h('label', 'Comment', comment), err, h('button.primary#t-save', { type: 'submit' }, 'Save')));
  }

  function comments() {
    const list = data.comments;
    if (list == null) return empty('Comments: not available on this server.');
    return list.length ? h('ol.comments', list.map((c) => h('li', h('div.c-head', h('strong', c.user), ' ', timeEl(c.at)), h('p', c.text)))) : empty('No comments yet.');
  }

  function audit() {
    const list = data.audit;
    if (list == null) return empty('Audit trail: not available on this server.');
    if (!list.length) return empty('No changes yet.');
    return h('ol.audit#audit-list', list.slice().reverse().map((e) => h('li', dataAttrs(e),
      h('div.a-head', h('strong', e.user), ' ', h('span.a-action', label(e.action)), ' ', h('span.note', time(e.at))),
      e.from || e.to ? h('div.a-change', e.from ? h('span.from', label(e.from)) : null, e.from ? ' → ' : '', h('span.to', label(e.to))) : null,
      e.comment ? h('p.a-comment', e.comment) : null)));
  }

  const dataAttrs = (e) => ({ dataset: { action: e.action || '', to: e.to || '' } });

  ctx.keys({
    a: () => can.triage && data && data.alert.status === 'new' && triage.change([id], { status: 'acknowledged' }).then(load),
    m: () => can.triage && data && triage.change([id], { assignee: me.user }).then(load),
    c: async () => {
      if (!can.triage || !data) return;
      const res = await triage.run('close', [id], me);
      if (res && res.some((r) => r.ok)) load();
    },
    u: () => ctx.navigate(lastQueue()),
    Backspace: () => ctx.navigate(lastQueue()),
  });

  const unsub = stream.subscribe((a) => {
    if (alive && a.id === id && data && !data.partial) load();
  });
  load();
  return {
    destroy() {
      alive = false;
      unsub();
    },
  };
}

// fetchAlert returns the detail of one alert, or null when the caller may
// not see it. Where the server has no detail endpoint yet, it is assembled
// from the alert list and the rule list (partial: no audit, comments or
// related alerts).
async function fetchAlert(id) {
  try {
    const d = await api(`alerts/${encodeURIComponent(id)}`);
    return { ...d, alert: d.alert || d };
  } catch (e) {
    if (e.notFound) return null;
    if (!e.missing) throw e;
  }
  const r = await pages('alerts', { limit: 1000, status: 'new,acknowledged,in_progress,closed' }, 'alerts', 5000);
  const a = r.items.find((x) => x.id === id);
  if (!a) return null;
  let rule = null;
  try {
    const rules = await api('rules');
    rule = (rules.rules || []).find((x) => x.id === a.rule_id) || null;
  } catch {
    /* the rule stays as the alert names it */
  }
  return { alert: a, rule, audit: null, comments: null, related: null, partial: true, canWrite: false };
}
