// One incident: what happened where (the header with its entities, each a
// pivot), how far the attack went (the kill-chain strip and the ATT&CK
// techniques), the timeline of its alerts with their events, the campaign
// it belongs to, and its triage, comments and audit trail; a decision that
// blocks its public source addresses.

import { h, replace, num, time, clock, timeEl, levelBadge, statusBadge, label, empty, throttle, copy, STATUSES, RESOLUTIONS, $$ } from '../lib/dom.js';
import { api, stream } from '../lib/api.js';
import { sectorColour, sectorLabel } from '../lib/charts.js';
import { techniqueName, techniqueURL, tacticLabel } from '../lib/attack.js';
import { panel, pivot, errorBox, spinner, toast } from '../lib/ui.js';
import { ENTITIES, stageStrip, campaignBadge, entityPivots, indicatorPivot, indicatorSummary, duration } from '../lib/incident.js';
import * as triage from '../lib/triage.js';
import { isPublicIP, blockButton } from '../lib/prevent.js';
import { lastIncidents } from './incidents.js';

export function mount(ctx) {
  const id = ctx.params.id;
  const me = ctx.me;
  const can = me.can || {};
  const national = !me.org_id;
  let alive = true;
  let data = null; // {incident, audit, comments, timeline, omitted_alerts, campaign}
  let cursor = -1; // the highlighted timeline entry
  const freshBtn = h('button.live-new#inc-new', { type: 'button', hidden: true, onclick: () => load() }, 'New activity — reload');
  ctx.title('Incident');
  replace(ctx.root, spinner());

  async function load() {
    try {
      const d = await api(`incidents/${encodeURIComponent(id)}`);
      if (!alive) return;
      data = d;
      freshBtn.hidden = true;
      draw();
    } catch (e) {
      if (!alive) return;
      if (e.notFound) return notFound();
      replace(ctx.root, errorBox(e.missing ? new Error('Incidents are not available on this server.') : e));
    }
  }

  function notFound() {
    ctx.title('Incident not found');
    replace(ctx.root, h('div.notfound#incident-notfound', h('h1', 'Incident not found'),
      h('p', 'There is no incident ', h('code', id), ' in the organisations you may see.'),
      h('a', { href: lastIncidents() }, '← Back to the incidents')));
  }

  function draw() {
    const inc = data.incident;
    ctx.title(inc.title);
    const since = new Date(new Date(inc.first_seen).getTime() - 24 * 3600_000).toISOString();
    const open = (list) => (list || []).length;
    cursor = -1;
    replace(ctx.root,
      h('div.page-head.alert-head',
        h('div', h('a.back', { href: lastIncidents() }, '← Incidents'),
          h('h1#incident-title', levelBadge(inc.severity), ' ', inc.title),
          h('p.alert-meta#incident-meta', statusBadge(inc.status), ' ',
            h('span.sector', h('span.dot', { style: { background: sectorColour(inc.sector) } }), h('a', { href: `/ui/orgs/${encodeURIComponent(inc.org_id)}` }, inc.org || inc.org_id), ' · ', sectorLabel(inc.sector)),
            ' · ', num(inc.alert_count ?? open(inc.alert_ids)), ` alert${(inc.alert_count ?? open(inc.alert_ids)) === 1 ? '' : 's'}`,
            ' · first ', timeEl(inc.first_seen), ' · last ', timeEl(inc.last_seen), ` · spans ${duration(inc.first_seen, inc.last_seen)}`,
            campaignBadge(inc))),
        h('div.page-tools', freshBtn, blockTool(inc), h('code.alert-id', inc.id))),
      entitiesBar(inc, since),
      h('div.detail',
        h('div.detail-main',
          panel('Kill chain and ATT&CK techniques', attackBox(inc), { cls: 'p-killchain', id: 'killchain' }),
          panel(`Timeline (${num((data.timeline || []).length)})`, timeline(since), { cls: 'p-timeline', id: 'timeline-panel',
            extra: (data.timeline || []).length ? h('button.link#tl-expand', { type: 'button', onclick: expandAll, title: 'Show or hide every event (e)' }, 'Expand all events') : null })),
        h('aside.detail-side',
          panel('Triage', triageBox(inc), { cls: 'p-triage', id: 'triage' }),
          panel('Campaign', campaignBox(inc, data.campaign), { cls: 'p-campaign', id: 'campaign' }),
          panel('Comments', comments(), { cls: 'p-comments', id: 'comments' }),
          panel('Audit trail', audit(), { cls: 'p-audit', id: 'audit' }))));
  }

  // blockTool offers a decision on the incident's public source addresses,
  // for its organisation (national roles may widen it in the dialog).
  function blockTool(inc) {
    const ips = ((inc.entities || {}).src_ip || []).filter(isPublicIP);
    if (!can.triage || !ips.length) return null;
    return blockButton(me, { id: 'block-source', label: ips.length > 1 ? `Block a source (${ips.length})…` : 'Block source…', values: ips, org: inc.org_id,
      reason: `Source of incident “${inc.title}” at ${inc.org || inc.org_id} (incident ${inc.id})` });
  }

  function entitiesBar(inc, since) {
    const e = inc.entities || {};
    const kinds = ENTITIES.filter(([k]) => (e[k] || []).length);
    const other = Object.keys(e).filter((k) => !ENTITIES.some(([x]) => x === k) && (e[k] || []).length);
    if (!kinds.length && !other.length) return h('div.entities-bar#entities', h('span.note', 'No host, user or address recorded.'));
    return h('div.entities-bar#entities',
      kinds.map(([k, name]) => h('div.ent-group', h('span.ent-kind', name + (e[k].length > 1 ? 's' : '')),
        e[k].map((v) => entityPivots(k, v, since, national ? inc.org_id : '')))),
      other.map((k) => h('div.ent-group', h('span.ent-kind', label(k)), e[k].map((v) => entityPivots(k, v, since, national ? inc.org_id : '')))));
  }

  function attackBox(inc) {
    const techs = inc.techniques || [];
    return h('div.attack-box',
      stageStrip(inc.stages, { large: true }),
      h('p.note.kc-caption', (inc.stages || []).length
        ? ['Reached ', h('strong', (inc.stages || []).map(tacticLabel).join(' → ')), ` (${(inc.stages || []).length} of 14 tactics)`]
        : 'No ATT&CK tactic is known for these alerts.'),
      techs.length ? h('ul.techs#techniques', techs.map((t) => h('li',
        h('a.tech', { href: techniqueURL(t), target: '_blank', rel: 'noopener noreferrer', title: 'MITRE ATT&CK' }, t),
        ' ', techniqueName(t) || h('span.note', 'unnamed technique'),
        ' ', h('a.note', { href: `/ui/alerts?technique=${encodeURIComponent(t)}&org=${encodeURIComponent(inc.org_id)}&status=all` }, 'alerts')))) : null);
  }

  function timeline(since) {
    const items = data.timeline || [];
    if (!items.length) return empty('No alert of this incident is available (retention may have removed them).');
    const t0 = new Date(items[0].at).getTime();
    let day = '';
    const lis = [];
    if (data.omitted_alerts) lis.push(h('li.tl-omitted', `${num(data.omitted_alerts)} earlier alert${data.omitted_alerts === 1 ? '' : 's'} not shown: the timeline keeps the latest ${num(items.length)}.`));
    items.forEach((it, i) => {
      const a = it.alert || {};
      const d = time(it.at).slice(0, 10);
      if (d !== day) {
        day = d;
        lis.push(h('li.tl-day', d));
      }
      const fields = Object.keys(it.event || {}).sort((x, y) => x.localeCompare(y));
      const offset = new Date(it.at).getTime() - t0;
      lis.push(h('li.tl-item', { dataset: { i: String(i), alert: a.id || '', stage: it.stage || '' }, class: `tl-${a.level || 'informational'}`, onclick: (e) => { if (!e.target.closest('a,button,summary,details')) setCursor(i); } },
        h('div.tl-time', h('time', { datetime: it.at, title: time(it.at) }, clock(it.at)), h('span.tl-offset', offset > 0 ? `+${duration(items[0].at, it.at)}` : 'start')),
        h('div.tl-dot'),
        h('div.tl-body',
          h('div.tl-head', levelBadge(a.level), ' ', h('span.tag.tl-stage', { title: it.stage || '' }, it.stage ? tacticLabel(it.stage) : 'no tactic'), ' ',
            a.id ? h('a.tl-title', { href: `/ui/alerts/${encodeURIComponent(a.id)}` }, a.rule_title || a.id) : h('span.tl-title', a.rule_title || ''),
            a.count > 1 ? h('span.note', ` ×${num(a.count)}`) : null,
            (a.techniques || []).slice(0, 3).map((t) => h('span.tech', { title: techniqueName(t) }, t))),
          h('p.tl-summary', it.summary || ''),
          fields.length ? h('details.tl-event', h('summary', `Event fields (${fields.length})`),
            h('table.grid.fields.compact', h('tbody', fields.map((n) => {
              const v = it.event[n];
              return h('tr', h('th', { scope: 'row' }, n), h('td', (Array.isArray(v) ? v : [v]).map((x) => h('div.fv', pivot(x, n, since)))));
            })))) : h('p.note', 'The event is not available.'))));
    });
    return h('ol.timeline#timeline', lis);
  }

  function setCursor(i) {
    const items = $$('#timeline li.tl-item', ctx.root);
    if (!items.length) return;
    i = Math.max(0, Math.min(items.length - 1, i));
    items.forEach((li) => li.classList.toggle('cursor', Number(li.dataset.i) === i));
    cursor = i;
    const cur = items.find((li) => Number(li.dataset.i) === i);
    if (cur) cur.scrollIntoView({ block: 'nearest' });
  }

  function expandAll() {
    const all = $$('#timeline details.tl-event', ctx.root);
    const openAll = all.some((d) => !d.open);
    all.forEach((d) => (d.open = openAll));
    $$('#tl-expand', ctx.root).forEach((b) => (b.textContent = openAll ? 'Collapse all events' : 'Expand all events'));
  }

  function triageBox(inc) {
    const facts = h('dl.kvs',
      h('div.kv', h('dt', 'Status'), h('dd#t-status', statusBadge(inc.status))),
      h('div.kv', h('dt', 'Assignee'), h('dd#t-assignee', inc.assignee || 'nobody')),
      h('div.kv', h('dt', 'Resolution'), h('dd#t-resolution', inc.resolution ? label(inc.resolution) : '—')),
      inc.acknowledged ? h('div.kv', h('dt', 'Acknowledged'), h('dd', timeEl(inc.acknowledged), h('span.note', ` after ${duration(inc.created || inc.first_seen, inc.acknowledged)}`))) : null,
      inc.closed ? h('div.kv', h('dt', 'Closed'), h('dd', timeEl(inc.closed))) : null,
      inc.updated ? h('div.kv', h('dt', 'Updated'), h('dd', timeEl(inc.updated))) : null);
    if (!can.triage) return h('div', facts, h('p.note', 'Your role may read incidents but not triage them.'));
    const status = h('select#t-status-sel', { 'aria-label': 'Status' }, STATUSES.map((s) => h('option', { value: s, selected: s === inc.status }, label(s))));
    const resolution = h('select#t-resolution-sel', { 'aria-label': 'Resolution' }, h('option', { value: '' }, '—'),
      RESOLUTIONS.map((r) => h('option', { value: r, selected: r === inc.resolution }, label(r))));
    const assignee = h('input#t-assignee-in', { value: inc.assignee || '', 'aria-label': 'Assignee', list: 'assignees-i' });
    const comment = h('textarea#t-comment', { rows: 3, placeholder: 'Comment (recorded in the audit trail)' });
    const err = h('p.form-error#t-error', { role: 'alert' });
    const resRow = h('label', 'Resolution (to close)', resolution);
    const sync = () => (resRow.hidden = status.value !== 'closed');
    status.addEventListener('change', sync);
    sync();
    const save = async (body) => {
      replace(err);
      if (body.status === 'closed' && !body.resolution) return replace(err, 'Choose a resolution to close the incident.');
      try {
        const [r] = await triage.change([inc.id], body, 'incident');
        if (!r.ok) return replace(err, r.error || 'Refused.');
        toast('Saved.', 'ok');
        load();
      } catch (e) {
        replace(err, e.message);
      }
    };
    const quick = (text, idSuffix, body, when, title) => (when ? h('button', { type: 'button', id: 't-' + idSuffix, title, onclick: () => save(body) }, text) : null);
    return h('div.triage', facts,
      h('div.quick',
        quick('Acknowledge', 'ack', { status: 'acknowledged' }, inc.status === 'new', 'Acknowledge (a)'),
        quick('Start', 'start', { status: 'in_progress' }, inc.status === 'new' || inc.status === 'acknowledged', 'In progress (s)'),
        quick('Assign to me', 'assign', { assignee: me.user }, inc.assignee !== me.user, 'Assign to me (m)'),
        quick('Reopen', 'reopen', { status: 'acknowledged' }, inc.status === 'closed'),
        inc.status !== 'closed' ? h('button.primary', { type: 'button', id: 't-close', title: 'Close with a resolution (c)', onclick: closeIt }, 'Close…') : null),
      h('form.triage-form', { onsubmit: (ev) => {
        ev.preventDefault();
        const body = {};
        if (status.value !== inc.status) body.status = status.value;
        if (status.value === 'closed' && resolution.value !== (inc.resolution || '')) body.resolution = resolution.value;
        if (status.value === 'closed' && !body.resolution && inc.status !== 'closed') body.resolution = resolution.value;
        if (assignee.value.trim() !== (inc.assignee || '')) body.assignee = assignee.value.trim();
        if (comment.value.trim()) body.comment = comment.value.trim();
        if (!Object.keys(body).length) return replace(err, 'Nothing to save.');
        save(body);
      } },
      h('label', 'Status', status), resRow, h('label', 'Assignee', assignee), h('datalist#assignees-i', h('option', { value: me.user })),
      h('label', 'Comment', comment), err, h('button.primary#t-save', { type: 'submit' }, 'Save')));
  }

  async function closeIt() {
    const res = await triage.run('close', [id], me, 'incident');
    if (res && res.some((r) => r.ok)) load();
  }

  function campaignBox(inc, c) {
    if (!c) {
      return inc.in_campaign ? h('p#campaign-partial', 'This incident is part of a campaign seen across organisations.')
        : empty('Not part of a known campaign: no shared indicator links it to other incidents.');
    }
    const indicators = indicatorList(c.indicators || []);
    if (c.partial) {
      return h('div.campaign-box#campaign-partial',
        h('p', 'This incident is part of a campaign seen across organisations.'),
        h('h4', 'Indicators seen in your organisation'), indicators,
        h('p', h('a#campaign-link', { href: `/ui/campaigns/${encodeURIComponent(c.id)}` }, 'Your part of the campaign →'), ' · ',
          h('a', { href: `/ui/incidents?campaign=${encodeURIComponent(c.id)}&status=all` }, 'your incidents in it')));
    }
    const orgs = c.orgs || [];
    return h('div.campaign-box#campaign-national',
      h('dl.kvs',
        h('div.kv', h('dt', 'Campaign'), h('dd', h('a#campaign-link', { href: `/ui/campaigns/${encodeURIComponent(c.id)}` }, h('code', c.id)))),
        h('div.kv', h('dt', 'Seen'), h('dd', time(c.first_seen), ' → ', time(c.last_seen))),
        h('div.kv', h('dt', `Organisations (${num(orgs.length)})`), h('dd.camp-orgs', orgs.slice(0, 8).map((o) =>
          h('div', h('span.dot', { style: { background: sectorColour(o.sector) }, title: sectorLabel(o.sector) }), h('a', { href: `/ui/orgs/${encodeURIComponent(o.id)}`, class: o.id === inc.org_id ? 'self' : '' }, o.name || o.id))),
          orgs.length > 8 ? h('div.note', `+${num(orgs.length - 8)} more`) : null)),
        h('div.kv', h('dt', 'Sectors'), h('dd', (c.sectors || []).map((s) => h('span.tag', sectorLabel(s))))),
        h('div.kv', h('dt', 'Incidents'), h('dd', num((c.incident_ids || []).length))),
        h('div.kv', h('dt', 'Indicators'), h('dd', indicatorSummary(c.indicators) || '—'))),
      indicators,
      h('p', h('a.button', { href: `/ui/campaigns/${encodeURIComponent(c.id)}` }, 'Open the campaign →')));
  }

  function indicatorList(list) {
    if (!list.length) return empty('No indicators.');
    const shown = list.slice(0, 12);
    return h('ul.indicators', shown.map((i) => {
      const p = indicatorPivot(i);
      return h('li', h('span.tag', i.kind), h('a.mono', { href: p.href, title: p.title }, i.value),
        h('button.link.copy', { type: 'button', title: `Copy ${i.value}`, onclick: async () => toast((await copy(i.value)) ? `Copied ${i.value}` : 'Copy failed.', 'ok') }, 'copy'));
    }), list.length > shown.length ? h('li.note', `+${num(list.length - shown.length)} more`) : null);
  }

  function comments() {
    const list = data.comments || [];
    return list.length ? h('ol.comments#comment-list', list.map((c) => h('li', h('div.c-head', h('strong', c.user), ' ', timeEl(c.at)), h('p', c.text)))) : empty('No comments yet.');
  }

  function audit() {
    const list = data.audit || [];
    if (!list.length) return empty('No changes yet.');
    return h('ol.audit#audit-list', list.slice().reverse().map((e) => h('li', { dataset: { action: e.action || '', to: e.to || '' } },
      h('div.a-head', h('strong', e.user), ' ', h('span.a-action', label(e.action)), ' ', h('span.note', time(e.at))),
      e.from || e.to ? h('div.a-change', e.from ? h('span.from', label(e.from)) : null, e.from ? ' → ' : '', h('span.to', label(e.to))) : null,
      e.comment ? h('p.a-comment', e.comment) : null)));
  }

  const quickChange = (body) => can.triage && data && triage.change([id], body, 'incident').then(([r]) => {
    if (r && !r.ok) toast(r.error || 'Refused.', 'error');
    load();
  }).catch((e) => toast(e.message, 'error'));

  ctx.keys({
    a: () => data && data.incident.status === 'new' && quickChange({ status: 'acknowledged' }),
    s: () => data && ['new', 'acknowledged'].includes(data.incident.status) && quickChange({ status: 'in_progress' }),
    m: () => data && quickChange({ assignee: me.user }),
    c: () => can.triage && data && data.incident.status !== 'closed' && closeIt(),
    j: () => setCursor(cursor + 1),
    k: () => setCursor(cursor - 1),
    Enter: () => {
      const it = data && (data.timeline || [])[cursor];
      if (it && it.alert && it.alert.id) ctx.navigate(`/ui/alerts/${encodeURIComponent(it.alert.id)}`);
    },
    x: () => {
      const li = $$(`#timeline li.tl-item[data-i="${cursor}"] details`, ctx.root)[0];
      if (li) li.open = !li.open;
    },
    e: expandAll,
    u: () => ctx.navigate(lastIncidents()),
    Backspace: () => ctx.navigate(lastIncidents()),
  });

  // An alert of the same organisation may have joined the incident: look
  // (at most every 15 s) and offer a reload rather than redraw under the
  // analyst's eyes.
  const look = throttle(async () => {
    if (!alive || !data) return;
    try {
      const d = await api(`incidents/${encodeURIComponent(id)}`);
      const a = data.incident;
      const b = d.incident;
      if (alive && (a.last_seen !== b.last_seen || a.updated !== b.updated || (a.alert_ids || []).length !== (b.alert_ids || []).length)) freshBtn.hidden = false;
    } catch {
      /* the next alert tries again */
    }
  }, 15_000);
  const unsub = stream.subscribe((a) => {
    if (alive && data && (a.org_id === data.incident.org_id || (data.incident.alert_ids || []).includes(a.id))) look();
  });
  load();
  return {
    destroy() {
      alive = false;
      unsub();
    },
  };
}
