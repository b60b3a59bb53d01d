// One campaign. National roles: the organisations and sectors it hit, its
// indicators (each copyable and a pivot), its techniques, its incidents and
// when each organisation was hit, with one action that blocks its
// infrastructure (a decision per address, network and domain, for each
// sector hit or the nation) and its STIX export. An organisation's role:
// only its own part (its incidents and the indicators seen in them), never a
// hint of who else.

import { h, replace, num, time, timeEl, levelBadge, statusBadge, empty, copy } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { Chart, sectorColour, sectorLabel } from '../lib/charts.js';
import { techniqueName, techniqueURL } from '../lib/attack.js';
import { panel, table, errorBox, spinner, toast, dialog } from '../lib/ui.js';
import { SEVERITY_RANK, OPEN, INDICATOR_KINDS, stageStrip, indicatorPivot, indicatorSummary, duration } from '../lib/incident.js';
import { TYPES, durationPicker, targetLabel, timeLeft } from '../lib/prevent.js';

const MINUTE = 60_000;
const STEPS = [MINUTE, 5 * MINUTE, 15 * MINUTE, 60 * MINUTE, 6 * 60 * MINUTE, 24 * 60 * MINUTE];
const MAX_SERIES = 12;
// BLOCK_KINDS are the indicator kinds a decision can hold.
const BLOCK_KINDS = [['ip', 'IP addresses'], ['net', 'Networks'], ['domain', 'Domains']];

export function mount(ctx) {
  const id = ctx.params.id;
  const can = ctx.me.can || {};
  let alive = true;
  let chart = null;
  const blockResult = h('div#camp-block-result', { hidden: true });
  ctx.title('Campaign');
  replace(ctx.root, spinner());

  async function load() {
    try {
      const d = await api(`campaigns/${encodeURIComponent(id)}`);
      if (!alive) return;
      draw(d.campaign, d.incidents || []);
    } catch (e) {
      if (!alive) return;
      if (e.notFound) return notFound();
      replace(ctx.root, errorBox(e.missing ? new Error('Campaigns are not available on this server.') : e));
    }
  }

  function notFound() {
    ctx.title('Campaign not found');
    replace(ctx.root, h('div.notfound#campaign-notfound', h('h1', 'Campaign not found'),
      h('p', 'There is no campaign ', h('code', id), ' among those you may see.'), h('a', { href: '/ui/campaigns' }, '← Campaigns')));
  }

  function draw(c, incidents) {
    ctx.title(`Campaign ${c.id}`);
    const partial = !!c.partial;
    const chartEl = h('div.chart#campaign-chart');
    const open = incidents.filter((i) => OPEN.includes(i.status));
    const severe = open.filter((i) => i.severity === 'critical' || i.severity === 'high').length;
    const orgs = c.orgs || [];
    const head = h('div.page-head.alert-head',
      h('div', h('a.back', { href: '/ui/campaigns' }, '← Campaigns'),
        h('h1#campaign-title', 'Campaign ', h('code', c.id)),
        h('p.alert-meta', 'first ', timeEl(c.first_seen), ' · last ', timeEl(c.last_seen), ` · spans ${duration(c.first_seen, c.last_seen)}`)),
      h('div.page-tools', h('a.button', { href: `/ui/incidents?campaign=${encodeURIComponent(c.id)}&status=all` }, partial ? 'Your incidents in the list' : 'Its incidents in the list'),
        partial ? null : h('a.button#camp-stix', { href: `/api/v1/stix?campaign=${encodeURIComponent(c.id)}`, download: `${c.id}.stix.json`,
          title: 'The campaign as a STIX 2.1 bundle (organisations anonymised, sectors kept), to share with partners' }, 'Export STIX'),
        partial || !can.triage ? null : blockButton(c)));
    if (partial) {
      replace(ctx.root, head,
        h('div.banner#campaign-partial', h('strong', 'This campaign was seen across organisations.'),
          ' Only your part of it is shown: your incidents that belong to it and the indicators seen in them. Share what you find with the national team.'),
        h('div.kpis.k4',
          kpi('Your incidents', num(incidents.length)),
          kpi('Open', num(open.length), open.length ? 'alarm' : ''),
          kpi('High or critical open', num(severe), severe ? 'alarm' : ''),
          kpi('Your indicators', num((c.indicators || []).length))),
        h('div.org-grid',
          panel('Your incidents over time', chartEl, { cls: 'p-camp-chart' }),
          panel('Indicators seen in your organisation', indicatorTable(c.indicators || []), { cls: 'p-camp-inds', id: 'camp-indicators' }),
          panel(`Your incidents (${num(incidents.length)})`, incidentTable(incidents, false), { cls: 'p-camp-incidents', id: 'camp-incidents' })));
    } else {
      replace(ctx.root, head, blockResult,
        h('div.kpis.k5',
          kpi('Organisations', num(orgs.length), orgs.length > 1 ? 'alarm' : ''),
          kpi('Sectors', num((c.sectors || []).length)),
          kpi('Incidents', num(incidents.length || (c.incident_ids || []).length)),
          kpi('High or critical open', num(severe), severe ? 'alarm' : ''),
          kpi('Indicators', num((c.indicators || []).length), '', indicatorSummary(c.indicators))),
        h('div.org-grid',
          panel('Incidents per organisation over time', chartEl, { cls: 'p-camp-chart' }),
          panel(`Organisations affected (${num(orgs.length)})`, orgTable(orgs, incidents, c.id), { cls: 'p-camp-orgs', id: 'camp-orgs' }),
          panel('Sectors', sectorBars(c.sectors || [], orgs), { cls: 'p-camp-sectors', id: 'camp-sectors' }),
          panel(`Indicators (${num((c.indicators || []).length)})`, indicatorTable(c.indicators || []), { cls: 'p-camp-inds', id: 'camp-indicators' }),
          panel('ATT&CK techniques', techList(c.techniques || []), { cls: 'p-camp-techs', id: 'camp-techniques' }),
          panel(`Incidents (${num(incidents.length)})`, incidentTable(incidents, true), { cls: 'p-camp-incidents', id: 'camp-incidents' })));
    }
    if (chart) chart.dispose();
    chart = new Chart(chartEl);
    chart.set(timelineOption(incidents));
    chart.on('click', (p) => {
      if (p.seriesId && p.seriesId !== '~other') ctx.navigate(`/ui/incidents?campaign=${encodeURIComponent(c.id)}&org=${encodeURIComponent(p.seriesId)}&status=all`);
    });
  }

  function blockButton(c) {
    const n = (c.indicators || []).filter((i) => BLOCK_KINDS.some(([k]) => k === i.kind)).length;
    return h('button.primary#camp-block', { type: 'button', disabled: !n, onclick: () => block(c),
      title: n ? 'Make decisions that block its addresses, networks and domains, for the sectors it hit or the nation' : 'The campaign has no address, network or domain to block' }, 'Block infrastructure…');
  }

  // block asks how to block the campaign's infrastructure, makes the
  // decisions in one call and shows those made and those refused (an
  // allowlisted address, an invalid value).
  async function block(c) {
    const inds = c.indicators || [];
    const sectors = c.sectors || [];
    const countOf = (k) => inds.filter((i) => i.kind === k).length;
    const typeSel = h('select#cb-type', { 'aria-label': 'Type' }, TYPES.map(([v, t]) => h('option', { value: v }, t)));
    const picker = durationPicker('cb', '24h');
    const targetSel = h('select#cb-target', { 'aria-label': 'Applies to' },
      h('option', { value: 'sectors' }, `Each sector it hit (${sectors.map(sectorLabel).join(', ') || 'none'})`),
      h('option', { value: 'national' }, 'The whole nation'));
    const boxes = BLOCK_KINDS.map(([k, t]) => h('input', { type: 'checkbox', value: k, checked: countOf(k) > 0, disabled: !countOf(k), 'aria-label': t }));
    const reasonIn = h('textarea#cb-reason', { rows: 2, maxlength: 1000, placeholder: `campaign ${c.id} across ${(c.orgs || []).length} organisations` });
    const summary = h('p.note#cb-summary');
    const chosen = () => boxes.filter((b) => b.checked).map((b) => b.value);
    const upd = () => {
      const n = chosen().reduce((s, k) => s + countOf(k), 0) * (targetSel.value === 'national' ? 1 : sectors.length);
      replace(summary, `Up to ${num(n)} decision${n === 1 ? '' : 's'}: one per value${targetSel.value === 'national' ? '' : ' and sector'}. Values the allowlist protects are refused and listed.`);
    };
    boxes.forEach((b) => b.addEventListener('change', upd));
    targetSel.addEventListener('change', upd);
    upd();
    const r = await dialog({
      title: 'Block the campaign’s infrastructure',
      cls: 'wide',
      body: [
        h('div.form-row', h('label', 'Type', typeSel), h('label', 'Applies to', targetSel)),
        h('div.label-group', h('span.label', 'Duration'), picker.el),
        h('div.label-group', h('span.label', 'Indicators to block'), h('div.form-row#cb-kinds', BLOCK_KINDS.map(([k, t], i) => h('label.inline', boxes[i], `${t} (${num(countOf(k))})`)))),
        h('label', 'Reason (optional)', reasonIn),
        summary,
      ],
      buttons: [{ label: 'Block', value: 'block', primary: true }],
      validate: () => (!chosen().length ? 'Choose at least one kind of indicator.' : !picker.value() ? 'Choose a duration.' : ''),
      submit: () => api(`campaigns/${encodeURIComponent(c.id)}/block`, { method: 'POST', body: {
        type: typeSel.value, duration: picker.value(), kinds: chosen(), reason: reasonIn.value.trim() || undefined,
        target: targetSel.value === 'national' ? { national: true } : undefined } }),
    });
    if (!r || !alive) return;
    showBlocked(c, r.decisions || [], r.errors || []);
  }

  function showBlocked(c, made, errs) {
    blockResult.hidden = false;
    blockResult.className = 'banner block-result' + (errs.length ? ' has-errors' : '');
    const sectorsOf = new Map((c.orgs || []).map((o) => [o.id, o]));
    replace(blockResult,
      h('div.import-head',
        h('span', h('strong#cb-made', `${num(made.length)} decision${made.length === 1 ? '' : 's'} made`),
          errs.length ? h('span#cb-refused', ` · ${num(errs.length)} refused`) : ''),
        h('a#cb-open', { href: `/ui/decisions?q=${encodeURIComponent(c.id)}&origin=campaign` }, 'See them in Prevention →'),
        h('button.link', { type: 'button', onclick: () => (blockResult.hidden = true), 'aria-label': 'Dismiss' }, 'dismiss')),
      made.length ? table([
        { label: 'Value', cls: 'mono', render: (d) => h('a', { href: `/ui/decisions/${d.id}` }, d.value) },
        { label: 'Scope', render: (d) => d.scope },
        { label: 'Type', render: (d) => d.type },
        { label: 'Applies to', render: (d) => targetLabel(d.target, sectorsOf) },
        { label: 'Time left', render: (d) => timeLeft(d) },
      ], made, { cls: 'compact', rowAttrs: (d) => ({ dataset: { id: String(d.id) } }) }) : null,
      errs.length ? h('ul.problems#cb-errors', errs.map((e) => h('li', e))) : null);
    toast(`${num(made.length)} decision${made.length === 1 ? '' : 's'} made${errs.length ? `, ${num(errs.length)} refused` : ''}.`, made.length ? 'ok' : 'error');
    blockResult.scrollIntoView({ block: 'nearest' });
  }

  ctx.keys({ r: () => load(), u: () => ctx.navigate('/ui/campaigns'), Backspace: () => ctx.navigate('/ui/campaigns') });
  load();
  return {
    destroy() {
      alive = false;
      if (chart) chart.dispose();
    },
  };
}

function kpi(label, value, cls = '', title = '') {
  return h('div.kpi', { class: cls, title }, h('div.kpi-label', label), h('div.kpi-value', value));
}

function orgTable(orgs, incidents, cid) {
  const by = new Map();
  for (const i of incidents) {
    const r = by.get(i.org_id) || { n: 0, open: 0, worst: '', first: i.first_seen, last: i.last_seen };
    r.n++;
    if (OPEN.includes(i.status)) r.open++;
    if ((SEVERITY_RANK[i.severity] || 0) > (SEVERITY_RANK[r.worst] || 0)) r.worst = i.severity;
    if (i.first_seen < r.first) r.first = i.first_seen;
    if (i.last_seen > r.last) r.last = i.last_seen;
    by.set(i.org_id, r);
  }
  const rows = orgs.map((o) => ({ ...o, ...(by.get(o.id) || { n: 0, open: 0, worst: '' }) })).sort((a, b) => (a.first || '~').localeCompare(b.first || '~'));
  return table([
    { label: 'Organisation', render: (o) => h('a', { href: `/ui/orgs/${encodeURIComponent(o.id)}`, dataset: { org: o.id } }, o.name || o.id) },
    { label: 'Sector', render: (o) => h('span.sector', h('span.dot', { style: { background: sectorColour(o.sector) } }), sectorLabel(o.sector)) },
    { label: 'Worst', render: (o) => (o.worst ? levelBadge(o.worst) : '—') },
    { label: 'Incidents', cls: 'num', render: (o) => h('a', { href: `/ui/incidents?org=${encodeURIComponent(o.id)}&status=all&campaign=${encodeURIComponent(cid)}` }, num(o.n)) },
    { label: 'Open', cls: 'num', render: (o) => num(o.open) },
    { label: 'First hit', render: (o) => (o.first ? timeEl(o.first) : '—') },
  ], rows, { emptyText: 'No organisation.', cls: 'compact' });
}

function sectorBars(sectors, orgs) {
  if (!sectors.length) return empty('No sector.');
  const n = new Map(sectors.map((s) => [s, 0]));
  for (const o of orgs) n.set(o.sector, (n.get(o.sector) || 0) + 1);
  const entries = [...n.entries()].sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...entries.map((e) => e[1]));
  return h('ul.bars', entries.map(([s, c]) => h('li', h('span.bar-label', h('span.dot', { style: { background: sectorColour(s) } }), sectorLabel(s)),
    h('span.bar-track', h('span.bar-fill', { style: { width: `${(100 * c) / max}%`, background: sectorColour(s) } })), h('span.bar-value', `${num(c)} org${c === 1 ? '' : 's'}`))));
}

function indicatorTable(list) {
  if (!list.length) return empty('No indicators.');
  const order = INDICATOR_KINDS.map(([k]) => k);
  const rows = list.slice().sort((a, b) => (order.indexOf(a.kind) - order.indexOf(b.kind)) || a.value.localeCompare(b.value));
  return table([
    { label: 'Kind', render: (i) => h('span.tag', i.kind) },
    { label: 'Value', cls: 'mono ind-value', render: (i) => h('span', { dataset: { kind: i.kind } }, i.value) },
    { label: '', cls: 'actions', render: (i) => {
      const p = indicatorPivot(i);
      return [
        h('button.small.copy', { type: 'button', title: `Copy ${i.value}`, onclick: async () => toast((await copy(i.value)) ? `Copied ${i.value}` : 'Copy failed.', 'ok') }, 'Copy'), ' ',
        h('a.button.small', { href: p.href, title: p.title }, i.kind === 'rule' ? 'Alerts' : 'Events'), ' ',
        i.kind !== 'rule' ? h('a.button.small', { href: `/ui/alerts?q=${encodeURIComponent(i.value)}&status=all`, title: `Alerts mentioning ${i.value}` }, 'Alerts') : null,
      ];
    } },
  ], rows, { cls: 'compact indicators-table' });
}

function techList(list) {
  if (!list.length) return empty('No technique recorded.');
  return h('ul.techs', list.map((t) => h('li', h('a.tech', { href: techniqueURL(t), target: '_blank', rel: 'noopener noreferrer' }, t), ' ', techniqueName(t),
    ' ', h('a.note', { href: `/ui/alerts?technique=${encodeURIComponent(t)}&status=all&since=720h` }, 'alerts'))));
}

function incidentTable(incidents, national) {
  const rows = incidents.slice().sort((a, b) => String(b.last_seen).localeCompare(String(a.last_seen)));
  return table([
    { label: 'Severity', render: (i) => levelBadge(i.severity) },
    { label: 'Status', render: (i) => statusBadge(i.status) },
    { label: 'Incident', render: (i) => h('a', { href: `/ui/incidents/${encodeURIComponent(i.id)}`, dataset: { id: i.id } }, i.title) },
    national ? { label: 'Organisation', render: (i) => h('span.sector', h('span.dot', { style: { background: sectorColour(i.sector) } }), i.org || i.org_id) } : null,
    { label: 'Kill chain', render: (i) => stageStrip(i.stages) },
    { label: 'Alerts', cls: 'num', render: (i) => num(i.alert_count ?? (i.alert_ids || []).length) },
    { label: 'First seen', render: (i) => timeEl(i.first_seen) },
    { label: 'Last seen', render: (i) => timeEl(i.last_seen) },
  ].filter(Boolean), rows, { emptyText: 'No incident.', cls: 'compact' });
}

// timelineOption counts the incidents opened per organisation in time
// buckets sized to the campaign's span (at most about 48 of them).
function timelineOption(incidents) {
  if (!incidents.length) return { xAxis: { type: 'category', data: [] }, yAxis: { type: 'value' }, series: [] };
  const ts = incidents.map((i) => new Date(i.first_seen).getTime());
  const lo = Math.min(...ts);
  const hi = Math.max(...ts);
  const step = STEPS.find((s) => (hi - lo) / s <= 48) || STEPS[STEPS.length - 1];
  const start = Math.floor(lo / step) * step;
  const n = Math.floor((hi - start) / step) + 1;
  const count = new Map();
  for (const i of incidents) count.set(i.org_id, (count.get(i.org_id) || 0) + 1);
  const top = [...count.entries()].sort((a, b) => b[1] - a[1]).slice(0, MAX_SERIES).map(([o]) => o);
  const names = new Map(incidents.map((i) => [i.org_id, i.org || i.org_id]));
  const series = new Map();
  for (const i of incidents) {
    const key = top.includes(i.org_id) ? i.org_id : '~other';
    if (!series.has(key)) series.set(key, new Array(n).fill(0));
    series.get(key)[Math.floor((new Date(i.first_seen).getTime() - start) / step)]++;
  }
  const fmt = (t) => {
    const d = new Date(t);
    const hm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
    return step >= 24 * 60 * MINUTE ? time(d).slice(5, 10) : step >= 60 * MINUTE ? `${time(d).slice(5, 10)} ${hm}` : hm;
  };
  return {
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'category', data: Array.from({ length: n }, (_, k) => fmt(start + k * step)) },
    yAxis: { type: 'value' },
    series: [...series.entries()].sort((a, b) => (a[0] === '~other') - (b[0] === '~other')).map(([k, data]) => ({
      id: k, name: k === '~other' ? 'Other organisations' : names.get(k), type: 'bar', stack: 'all', barMaxWidth: 28, data, emphasis: { focus: 'series' },
    })),
  };
}
