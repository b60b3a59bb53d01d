// One decision: what it blocks, where, why, what made it and until when,
// its audit trail (created, extended, revoked, expired), the other
// decisions on the same value, and its revocation for roles that may.

import { h, replace, time, timeEl, label, empty } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { panel, table, searchURL, errorBox, spinner, toast, confirm } from '../lib/ui.js';
import { stateBadge, decisionState, timeLeft, targetLabel, originLink, loadOrgs } from '../lib/prevent.js';

export function mount(ctx) {
  const id = ctx.params.id;
  const me = ctx.me;
  const can = me.can || {};
  const national = !me.org_id;
  let alive = true;
  let orgs = new Map();
  ctx.title('Decision');
  replace(ctx.root, spinner());

  async function load() {
    try {
      const [d, list] = await Promise.all([api(`decisions/${encodeURIComponent(id)}`), loadOrgs().catch(() => [])]);
      if (!alive) return;
      orgs = new Map(list.map((o) => [o.id, o]));
      let others = [];
      try {
        others = ((await api('decisions', { query: { value: d.decision.value, active: 'false', limit: 50 } })).decisions || []).filter((x) => x.id !== d.decision.id);
      } catch {
        /* the list of other decisions is a convenience */
      }
      if (alive) draw(d.decision, d.audit || [], others);
    } catch (e) {
      if (!alive) return;
      if (e.notFound) return notFound();
      replace(ctx.root, errorBox(e));
    }
  }

  function notFound() {
    ctx.title('Decision not found');
    replace(ctx.root, h('div.notfound#decision-notfound', h('h1', 'Decision not found'),
      h('p', 'There is no decision ', h('code', id), ' among those that apply to you.'), h('a', { href: '/ui/decisions' }, '← Prevention')));
  }

  function draw(d, audit, others) {
    ctx.title(`Decision on ${d.value}`);
    const state = decisionState(d);
    const mayRevoke = can.triage && state === 'active' && (national || d.target.org === me.org_id);
    const row = (k, v) => h('div.kv', h('dt', k), h('dd', v));
    const search = searchURL({ value: d.value, since: '168h' });
    replace(ctx.root,
      h('div.page-head.alert-head',
        h('div', h('a.back', { href: '/ui/decisions' }, '← Prevention'),
          h('h1#decision-title', h('span.badge.dtype', { class: 'dt-' + d.type }, d.type), ' ', h('code', d.value)),
          h('p.alert-meta', stateBadge(d), ' ', targetLabel(d.target, orgs), ' · ', timeLeft(d), ' · made by ', d.created_by || '—', ' ', timeEl(d.created))),
        h('div.page-tools',
          h('a.button', { href: search, title: `Events containing ${d.value}` }, 'Events'),
          h('a.button', { href: `/ui/alerts?q=${encodeURIComponent(d.value)}&status=all`, title: `Alerts mentioning ${d.value}` }, 'Alerts'),
          mayRevoke ? h('button.danger#d-revoke', { type: 'button', onclick: () => revoke(d) }, 'Revoke…') : null,
          h('code.alert-id', '#' + d.id))),
      h('div.detail',
        h('div.detail-main',
          panel('Decision', h('dl.kvs#d-facts',
            row('Value', h('code', d.value)),
            row('Scope', label(d.scope)),
            row('Type', d.type),
            row('Applies to', targetLabel(d.target, orgs)),
            row('Reason', h('span#d-reason-text', d.reason)),
            row('Origin', originLink(d, national)),
            row('Made by', d.created_by || '—'),
            row('From', time(d.created)),
            row('Until', [time(d.until), ' (', timeLeft(d), ')']),
            d.deleted ? row('Revoked', [time(d.deleted), d.deleted_by ? ` by ${d.deleted_by}` : '']) : null,
            d.dry_run ? row('Dry run', 'recorded by a dry-run policy; never sent to bouncers') : null,
            row('UUID', h('code', d.uuid || '—'))), { cls: 'p-decision', id: 'decision' }),
          panel(`Other decisions on ${d.value}`, others.length ? table([
            { label: 'Decision', render: (x) => h('a', { href: `/ui/decisions/${x.id}` }, `#${x.id} ${x.type}`) },
            { label: 'Value', cls: 'mono', render: (x) => x.value },
            { label: 'Applies to', render: (x) => targetLabel(x.target, orgs) },
            { label: 'State', render: (x) => stateBadge(x) },
            { label: 'Time left', render: (x) => timeLeft(x) },
          ], others, { cls: 'compact' }) : empty('No other decision holds this value or overlaps it.'), { cls: 'p-decision-others' })),
        h('aside.detail-side',
          panel('Audit trail', auditList(audit), { cls: 'p-audit', id: 'audit' }))));
  }

  function auditList(list) {
    if (!list.length) return empty('No entry.');
    return h('ol.audit#d-audit', list.slice().reverse().map((e) => h('li', { dataset: { action: e.action || '' } },
      h('div.a-head', h('strong', e.user || 'system'), ' ', h('span.a-action', label(e.action)), ' ', h('span.note', time(e.at))),
      e.detail ? h('p.a-comment', e.detail) : null)));
  }

  async function revoke(d) {
    if (!(await confirm('Revoke the decision', `Revoke the ${d.type} of ${d.value}? The bouncers stop enforcing it at their next pull.`, 'Revoke', true))) return;
    try {
      await api(`decisions/${d.id}`, { method: 'DELETE' });
      toast(`Decision on ${d.value} revoked.`, 'ok');
    } catch (e) {
      toast(e.message, 'error');
    }
    if (alive) load();
  }

  ctx.keys({ r: () => load(), u: () => ctx.navigate('/ui/decisions'), Backspace: () => ctx.navigate('/ui/decisions') });
  load();
  return {
    destroy() {
      alive = false;
    },
  };
}
