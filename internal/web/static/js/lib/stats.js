// Statistics for the situation screen and the organisation pages: from the
// API's aggregate endpoints where the server has them, else estimated in the
// browser from the alert list (marked as estimated on screen).

import { api, pages } from './api.js';
import { buckets, HOUR, DAY } from './charts.js';

const iso = (ms) => new Date(ms).toISOString();
const OPEN = 'new,acknowledged,in_progress';

// dashboard returns the GET /api/v1/dashboard answer, or an estimate of it
// with estimated: true. extra filters (org, sector) narrow it.
export async function dashboard(signal, extra = {}) {
  try {
    return await api('dashboard', { query: { range: '24h', ...extra }, signal });
  } catch (e) {
    if (!e.missing) throw e;
  }
  return estimate(signal, extra);
}

async function estimate(signal, extra) {
  const now = Date.now();
  const dayStart = Math.floor(now / DAY) * DAY;
  const total = async (q) => (await api('alerts', { query: { ...extra, ...q, limit: 1, events: 'false' }, signal })).total;
  const [recent, today, yesterday, lastWeek, open, criticalOpen] = await Promise.all([
    pages('alerts', { ...extra, since: iso(buckets(14, DAY, now)[0].getTime()), limit: 1000, events: 'false' }, 'alerts', 3000, signal),
    total({ since: iso(dayStart) }),
    total({ since: iso(dayStart - DAY), until: iso(now - DAY) }),
    total({ since: iso(dayStart - 7 * DAY), until: iso(now - 7 * DAY) }),
    total({ status: OPEN }),
    total({ status: OPEN, level: 'critical' }),
  ]);
  const alerts = recent.items;
  const dayAgo = now - DAY;
  const last24 = alerts.filter((a) => new Date(a.first_seen).getTime() >= dayAgo);
  const perHour = new Map();
  const perDay = new Map();
  // Hits, as the API counts them: an alert that folded n hits counts n.
  const add = (m, t, sector, n) => {
    const k = t + '|' + sector;
    const r = m.get(k) || { t: iso(t), sector, count: 0 };
    r.count += n;
    m.set(k, r);
  };
  const byLevel = {};
  const sources = new Map();
  const techniques = new Map();
  const orgs = new Map();
  const sectors = new Map();
  for (const a of alerts) {
    const t = new Date(a.first_seen).getTime();
    add(perDay, Math.floor(t / DAY) * DAY, a.sector, a.count || 1);
    if (t < dayAgo) continue;
    add(perHour, Math.floor(t / HOUR) * HOUR, a.sector, a.count || 1);
    byLevel[a.level] = (byLevel[a.level] || 0) + 1;
    if (a.src_ip) {
      const s = sources.get(a.src_ip) || { ip: a.src_ip, count: 0, orgs: new Set(), sectors: new Set() };
      s.count++;
      s.orgs.add(a.org_id);
      s.sectors.add(a.sector);
      sources.set(a.src_ip, s);
    }
    const tactics = a.tactics && a.tactics.length ? a.tactics : [''];
    for (const tech of a.techniques || []) {
      for (const tactic of tactics) {
        const k = tech + '|' + tactic;
        const r = techniques.get(k) || { technique: tech, tactic, count: 0 };
        r.count++;
        techniques.set(k, r);
      }
    }
    const o = orgs.get(a.org_id) || { org_id: a.org_id, org: a.org, sector: a.sector, count: 0, critical: 0, high: 0 };
    o.count++;
    if (a.level === 'critical') o.critical++;
    if (a.level === 'high') o.high++;
    orgs.set(a.org_id, o);
    const s = sectors.get(a.sector) || { sector: a.sector, count: 0, orgs: new Set() };
    s.count++;
    s.orgs.add(a.org_id);
    sectors.set(a.sector, s);
  }
  const top = (m, n) => [...m.values()].sort((a, b) => b.count - a.count).slice(0, n);
  return {
    generated: iso(now),
    estimated: true,
    truncated: recent.truncated,
    totals: { today, yesterday, same_day_last_week: lastWeek, open, critical_open: criticalOpen },
    by_level: byLevel,
    per_hour: [...perHour.values()],
    per_day: [...perDay.values()],
    top_sources: top(sources, 10).map((s) => ({ ip: s.ip, count: s.count, orgs: s.orgs.size, sectors: [...s.sectors] })),
    techniques: [...techniques.values()],
    top_orgs: top(orgs, 10),
    top_sectors: top(sectors, 14).map((s) => ({ sector: s.sector, count: s.count, orgs: s.orgs.size })),
  };
}

// orgStats returns GET /api/v1/orgs/stats, or the organisation list with
// alert counts estimated from the last day's alerts (no data freshness).
export async function orgStats(signal) {
  try {
    return await api('orgs/stats', { signal });
  } catch (e) {
    if (!e.missing) throw e;
  }
  const [list, recent, open] = await Promise.all([
    api('orgs', { signal }),
    pages('alerts', { since: '24h', limit: 1000, events: 'false' }, 'alerts', 5000, signal),
    pages('alerts', { status: OPEN, limit: 1000, events: 'false' }, 'alerts', 5000, signal),
  ]);
  const by = new Map((list.orgs || []).map((o) => [o.id, { ...o, alerts_24h: 0, critical_24h: 0, open: 0, events_24h: null, last_event: null, silent: null }]));
  for (const a of recent.items) {
    const o = by.get(a.org_id);
    if (!o) continue;
    o.alerts_24h++;
    if (a.level === 'critical') o.critical_24h++;
  }
  for (const a of open.items) {
    const o = by.get(a.org_id);
    if (o) o.open++;
  }
  return { orgs: [...by.values()], estimated: true };
}
