// Rules: the loaded Sigma rules with their hits, a search, and (for roles
// that may manage rules) the switch that enables or disables a rule for one
// organisation, and the upload of a rule file (POST /api/v1/rules).

import { h, replace, num, levelBadge, LEVELS, empty } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { techniqueName } from '../lib/attack.js';
import { errorBox, spinner, toast } from '../lib/ui.js';

const RANK = { critical: 5, high: 4, medium: 3, low: 2, informational: 1 };
const MAX_UPLOAD = 1 << 20; // the server's limit

// uploadName is the file name sent with pasted YAML: the rule's id, else a default.
function uploadName(yaml) {
  const m = /^id:[ \t]*['"]?([\w.-]+)/m.exec(yaml);
  return m ? `${m[1]}.yml` : 'uploaded.yml';
}

export function mount(ctx) {
  ctx.title('Rules');
  const me = ctx.me;
  const can = me.can || {};
  let q = ctx.query;
  let rules = null;
  let loadedOrg = null;
  let alive = true;

  const text = h('input#r-q', { type: 'search', placeholder: 'Search title, id, author, technique, log source  ( / )', 'aria-label': 'Search rules', value: q.get('q') || '' });
  text.addEventListener('input', () => ctx.setQuery({ q: text.value.trim() }, { replace: true }));
  const levelSel = h('select#r-level', { 'aria-label': 'Level', onchange: () => ctx.setQuery({ level: levelSel.value }) }, h('option', { value: '' }, 'All levels'), LEVELS.map((l) => h('option', { value: l }, l)));
  const orgSel = h('select#r-org', { 'aria-label': 'Organisation for the enabled state', onchange: () => ctx.setQuery({ org: orgSel.value }) }, h('option', { value: '' }, me.org_id ? me.org_id : 'Choose an organisation…'));
  const list = h('div.table-wrap#r-list', spinner());
  const count = h('span.count#r-count');
  const note = h('span.note');
  replace(ctx.root,
    h('div.page-head', h('h1', 'Detection rules'), h('div.page-tools', count, note)),
    can.rules ? uploadForm() : null,
    h('div.filters', h('div.filter-row', text, levelSel, h('label.inline', can.rules ? 'Enable / disable for ' : 'Enabled state for ', orgSel))),
    list);

  if (!me.org_id) {
    api('orgs').then((r) => {
      for (const o of (r.orgs || []).sort((a, b) => a.name.localeCompare(b.name))) orgSel.append(h('option', { value: o.id }, o.name));
      orgSel.value = q.get('org') || '';
    }).catch(() => {});
  }

  const org = () => q.get('org') || me.org_id || '';

  async function load() {
    const o = org();
    try {
      const r = await api('rules', { query: { org: o } });
      if (!alive) return;
      rules = r.rules || [];
      loadedOrg = o;
      draw();
    } catch (e) {
      if (alive) replace(list, errorBox(e));
    }
  }

  function draw() {
    text.value = document.activeElement === text ? text.value : q.get('q') || '';
    levelSel.value = q.get('level') || '';
    if (!me.org_id) orgSel.value = q.get('org') || '';
    const needle = (q.get('q') || '').toLowerCase();
    const rows = rules.filter((r) => (!q.get('level') || r.level === q.get('level')) &&
      (!needle || [r.title, r.id, r.author, r.logsource, r.path, ...(r.techniques || [])].some((v) => v && String(v).toLowerCase().includes(needle))))
      .sort((a, b) => (b.hits_24h || 0) - (a.hits_24h || 0) || (RANK[b.level] || 0) - (RANK[a.level] || 0) || a.title.localeCompare(b.title));
    const hasHits = rules.some((r) => r.hits_total != null);
    const o = loadedOrg;
    replace(count, `${num(rows.length)} of ${num(rules.length)} rules`);
    replace(note, hasHits ? '' : 'Hit counts: not available on this server.');
    if (!rows.length) return replace(list, empty('No rule matches.'));
    replace(list, h('table.grid.rules', h('thead', h('tr',
      h('th', 'Rule'), h('th', 'Level'), h('th', 'Author'), h('th', 'ATT&CK'), h('th', 'Log source'),
      h('th.num', 'Hits 24 h'), h('th.num', 'Hits total'), o ? h('th', 'Enabled') : null)),
    h('tbody', rows.map((r) => h('tr', { dataset: { rule: r.id }, class: r.enabled === false ? 'disabled' : '' },
      h('td', h('a', { href: `/ui/alerts?rule_id=${encodeURIComponent(r.id)}&status=all`, title: 'Alerts of this rule' }, r.title),
        r.correlation ? h('span.tag', 'correlation') : null, r.status && r.status !== 'stable' ? h('span.tag', r.status) : null,
        h('div.note.mono', r.id)),
      h('td', levelBadge(r.level)),
      h('td', r.author || 'unknown'),
      h('td', (r.techniques || []).map((t) => h('span.tech', { title: techniqueName(t) }, t))),
      h('td.mono', r.logsource || '—'),
      h('td.num', r.hits_24h == null ? '—' : num(r.hits_24h)),
      h('td.num', r.hits_total == null ? '—' : num(r.hits_total)),
      o ? h('td', toggle(r, o)) : null)))));
  }

  function toggle(r, o) {
    if (!can.rules) return r.enabled == null ? '—' : r.enabled ? 'yes' : 'no';
    const set = async (on, el) => {
      el.disabled = true;
      try {
        await api(`orgs/${encodeURIComponent(o)}/rules/${encodeURIComponent(r.id)}`, { method: 'PUT', body: { enabled: on } });
        r.enabled = on;
        toast(`${r.title}: ${on ? 'enabled' : 'disabled'} for ${o}.`, 'ok');
      } catch (e) {
        toast(e.message, 'error');
      }
      if (alive) draw();
    };
    if (r.enabled == null) {
      // The server does not say the current state: offer both.
      return h('span.btn-pair', h('button.small', { type: 'button', onclick: (e) => set(true, e.target) }, 'Enable'), h('button.small', { type: 'button', onclick: (e) => set(false, e.target) }, 'Disable'));
    }
    return h('label.switch', { title: r.enabled ? 'Disable for this organisation' : 'Enable for this organisation' },
      h('input', { type: 'checkbox', role: 'switch', checked: r.enabled, 'aria-label': `${r.title} enabled for ${o}`, onchange: (e) => set(e.target.checked, e.target) }), h('span.slider'));
  }

  // uploadForm: a rule file, picked or pasted, installed for everyone on
  // success; the server's problems (with their lines) are listed otherwise.
  function uploadForm() {
    const file = h('input#ru-file', { type: 'file', accept: '.yml,.yaml,application/yaml,text/yaml', 'aria-label': 'Rule file' });
    const name = h('input#ru-name.mono', { type: 'text', placeholder: '<rule id>.yml', 'aria-label': 'File name', spellcheck: 'false' });
    const yaml = h('textarea#ru-yaml.mono', { rows: 10, spellcheck: 'false', placeholder: 'title: …\nid: …\nlogsource: …\ndetection: …', 'aria-label': 'Rule YAML' });
    const submit = h('button.primary#ru-submit', { type: 'submit' }, 'Upload');
    const status = h('span.upload-status#ru-status', { role: 'status' });
    const problems = h('ul.problems#ru-problems', { hidden: true });
    const say = (msg, kind, lines = []) => {
      status.className = 'upload-status ' + (kind || '');
      replace(status, msg);
      replace(problems, lines.map((l) => h('li', l)));
      problems.hidden = !lines.length;
    };
    file.addEventListener('change', async () => {
      const f = file.files && file.files[0];
      if (!f) return;
      if (f.size > MAX_UPLOAD) return say(`${f.name} is larger than 1 MiB.`, 'error');
      try {
        yaml.value = await f.text();
        name.value = f.name;
        say('', '');
      } catch (e) {
        say(`${f.name} cannot be read: ${e.message}`, 'error');
      }
    });
    const form = h('form.upload-form#ru-form', { onsubmit: async (ev) => {
      ev.preventDefault();
      const src = yaml.value;
      if (!src.trim()) return say('Choose a rule file or paste its YAML.', 'error');
      if (new Blob([src]).size > MAX_UPLOAD) return say('The rule file must be at most 1 MiB.', 'error');
      const n = name.value.trim() || uploadName(src);
      submit.disabled = true;
      say('Uploading…', '');
      try {
        const r = await api('rules', { method: 'POST', query: { name: n }, raw: src, type: 'application/yaml' });
        const ids = (r && r.installed) || [];
        if (!alive) return;
        say(`Installed ${ids.length} rule${ids.length === 1 ? '' : 's'} from ${n}${r && r.by ? ` (by ${r.by})` : ''}: ${ids.join(', ')}`, 'ok');
        toast(`Rule file ${n} installed.`, 'ok');
        file.value = '';
        name.value = '';
        yaml.value = '';
        load();
      } catch (e) {
        if (!alive) return;
        if (e.problems && e.problems.length) say(e.message, 'error', e.problems);
        else say(e.message, 'error');
      } finally {
        submit.disabled = false;
      }
    } },
    h('div.filter-row', h('label.inline', 'File ', file), h('label.inline', 'Name ', name)),
    yaml,
    h('div.upload-actions', submit, status),
    problems);
    return h('details.panel.upload#r-upload', h('summary', 'Upload a rule'), form);
  }

  ctx.keys({ '/': () => text.focus() });
  load();
  return {
    update(nq) {
      q = nq;
      if (org() !== loadedOrg) load();
      else if (rules) draw();
    },
    destroy() {
      alive = false;
    },
  };
}
