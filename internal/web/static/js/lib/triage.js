// Triage writes: one alert (PATCH /api/v1/alerts/{id}) or many
// (POST /api/v1/alerts/bulk, or one PATCH each where the server has no bulk
// endpoint), and incidents (PATCH /api/v1/incidents/{id}, one each: there
// is no bulk endpoint for them).

import { api, ApiError } from './api.js';
import { toast, closeDialog } from './ui.js';
import { label } from './dom.js';

// What is triaged: the API path of one item, its bulk endpoint (if any),
// and its name in messages.
const KINDS = {
  alert: { path: 'alerts', bulk: 'alerts/bulk', noun: 'alert' },
  incident: { path: 'incidents', bulk: '', noun: 'incident' },
};

// change applies {status?, assignee?, resolution?, comment?} to ids (of
// kind 'alert' or 'incident') and resolves [{id, ok, error?, item?}], item
// being the changed object where the API returns it.
export async function change(ids, body, kind = 'alert') {
  const k = KINDS[kind];
  if (ids.length === 1) {
    try {
      const item = await api(`${k.path}/${encodeURIComponent(ids[0])}`, { method: 'PATCH', body });
      return [{ id: ids[0], ok: true, item }];
    } catch (e) {
      if (e instanceof ApiError && e.missing) throw new ApiError(e.status, 'no_endpoint', 'Triage is not available on this server yet.');
      return [{ id: ids[0], ok: false, error: e.message }];
    }
  }
  if (k.bulk) {
    try {
      const r = await api(k.bulk, { method: 'POST', body: { ids, ...body } });
      return r.results || ids.map((id) => ({ id, ok: true }));
    } catch (e) {
      if (!(e instanceof ApiError && e.missing)) throw e;
    }
  }
  const out = [];
  for (const id of ids) out.push(...(await change([id], body, kind)));
  return out;
}

// run applies an action by name to ids, asking what it needs (a resolution
// to close), reports the outcome in a toast and resolves the results, or
// null when cancelled. me is GET /api/v1/me.
export async function run(action, ids, me, kind = 'alert') {
  if (!ids.length) return null;
  const noun = KINDS[kind].noun;
  let body;
  if (action === 'acknowledge') body = { status: 'acknowledged' };
  else if (action === 'start') body = { status: 'in_progress' };
  else if (action === 'assign') body = { assignee: me.user };
  else if (action === 'close') {
    const r = await closeDialog(ids.length, noun);
    if (!r) return null;
    body = { status: 'closed', resolution: r.resolution };
    if (r.comment) body.comment = r.comment;
  } else throw new Error(`unknown action ${action}`);
  try {
    const results = await change(ids, body, kind);
    const ok = results.filter((r) => r.ok).length;
    const bad = results.filter((r) => !r.ok);
    const what = { acknowledge: 'acknowledged', start: 'in progress', assign: `assigned to ${me.user}`, close: `closed as ${label(body.resolution)}` }[action];
    if (ok) toast(`${ok} ${noun}${ok === 1 ? '' : 's'} ${what}.`, 'ok');
    if (bad.length) toast(`${bad.length} not changed: ${bad[0].error || 'refused'}`, 'error');
    return results.map((r) => ({ ...r, change: body }));
  } catch (e) {
    toast(e.message, 'error');
    return null;
  }
}
