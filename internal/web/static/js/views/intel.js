// Threat intelligence: the indicators of compromise every event is matched
// against (addresses, networks, domains, URLs, hashes), with their source,
// confidence and TLP marking; the import of a STIX bundle, a MISP event or a
// plain or CSV list, pasted or from a file; and, for national roles, their
// removal. An organisation's role sees what the TLP rules let it see, and
// what it imports is shared as its own (amber unless it says otherwise).

import { h, replace, num, timeEl, debounce, copy } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { searchURL, errorBox, spinner, toast, confirm, dialog } from '../lib/ui.js';
import { TLPS, tlpChip } from '../lib/prevent.js';

const KINDS = [['ip', 'IP address'], ['cidr', 'Network'], ['domain', 'Domain'], ['url', 'URL'], ['md5', 'MD5'], ['sha1', 'SHA-1'], ['sha256', 'SHA-256']];
const FORMATS = [['stix', 'STIX 2.1 (bundle or objects)'], ['misp', 'MISP event (JSON)'], ['list', 'Plain list (one value per line)'], ['csv', 'CSV with a header']];
const PAGE = 200;
const MAX_IMPORT = 64 << 20; // the server's limit

// guessFormat tells a pasted text's format from its first characters.
export function guessFormat(text) {
  const t = text.trimStart();
  if (t.startsWith('{') || t.startsWith('[')) return /"Event"\s*:|"Attribute"\s*:/.test(t.slice(0, 4096)) ? 'misp' : 'stix';
  const first = t.split('\n').find((l) => l.trim() && !/^(#|;|\/\/)/.test(l.trim())) || '';
  return first.includes(',') && /[a-z_]{2,}/i.test(first) && !/^[0-9a-f:.\/]+,/i.test(first) ? 'csv' : 'list';
}

export function mount(ctx) {
  ctx.title('Threat intelligence');
  const me = ctx.me;
  const can = me.can || {};
  const national = !me.org_id;
  let q = ctx.query;
  let items = [];
  let total = 0;
  let alive = true;
  let ctl = new AbortController();
  const sources = new Set();

  const text = h('input#in-q', { type: 'search', placeholder: 'Search value, description, label, producer  ( / )', 'aria-label': 'Search indicators', value: q.get('q') || '' });
  text.addEventListener('input', debounce(() => ctx.setQuery({ q: text.value.trim() }, { replace: true }), 300));
  const kindSel = h('select#in-kind', { 'aria-label': 'Kind', onchange: () => ctx.setQuery({ kind: kindSel.value }) }, h('option', { value: '' }, 'Any kind'), KINDS.map(([v, t]) => h('option', { value: v }, t)));
  const sourceIn = h('input#in-source', { placeholder: 'Source', 'aria-label': 'Source', list: 'in-sources', size: 16 });
  sourceIn.addEventListener('change', () => ctx.setQuery({ source: sourceIn.value.trim() }));
  const sourceList = h('datalist#in-sources');
  const activeBtn = h('button.chip#in-active', { type: 'button', title: 'Only indicators matched now: valid, not expired, not decayed', onclick: () => ctx.setQuery({ active: q.get('active') ? '' : 'true' }) }, 'Only active');
  const count = h('span.count#in-count');
  const result = h('div#imp-result', { hidden: true });
  const tableWrap = h('div.table-wrap#in-table', spinner());
  const more = h('div.more');
  const importer = can.triage ? importForm() : null;

  replace(ctx.root,
    h('div.page-head', h('h1', 'Threat intelligence'), h('div.page-tools', count,
      h('a.button#in-export', { href: '/api/v1/stix?since=7d', download: 'mamori-confirmed-7d.stix.json', title: 'The alerts closed as true positives in the last 7 days, as a STIX 2.1 bundle (organisations anonymised)' }, 'Export confirmed alerts (STIX)'),
      importer ? h('button.primary#in-import', { type: 'button', title: 'Import indicators (i)', onclick: () => importer.open() }, 'Import…') : null)),
    h('p.note.page-intro', national
      ? 'Every event is matched against the active indicators as it arrives; a match raises a “Threat intelligence match” alert. Indicators come from feeds, partners (TAXII) and imports; their confidence decays unless the source renews them.'
      : 'Every event of your organisation is matched against these indicators. You see those shared with you under the TLP rules; what you import is shared with the national team as your organisation’s (TLP:AMBER unless you choose otherwise).'),
    h('div.filters', h('div.filter-row', text, kindSel, sourceIn, sourceList, activeBtn,
      h('button.ghost', { type: 'button', onclick: () => ctx.navigate('/ui/intel') }, 'Reset'))),
    result,
    tableWrap, more);

  function sync() {
    if (document.activeElement !== text) text.value = q.get('q') || '';
    kindSel.value = q.get('kind') || '';
    if (document.activeElement !== sourceIn) sourceIn.value = q.get('source') || '';
    activeBtn.setAttribute('aria-pressed', String(!!q.get('active')));
  }

  async function load(append = false) {
    ctl.abort();
    ctl = new AbortController();
    if (!append && !items.length) replace(tableWrap, spinner());
    try {
      const r = await api('indicators', { query: { q: q.get('q') || '', kind: q.get('kind') || '', source: q.get('source') || '', active: q.get('active') ? 'true' : '', limit: PAGE, offset: append ? items.length : 0 }, signal: ctl.signal });
      if (!alive) return;
      items = append ? items.concat(r.indicators || []) : r.indicators || [];
      total = r.total ?? items.length;
      draw();
    } catch (e) {
      if (e.name === 'AbortError' || !alive) return;
      replace(tableWrap, errorBox(e.missing || e.status === 503 ? new Error('Threat intelligence is not available on this server.') : e));
    }
  }

  const cols = [
    { cls: 'kind', head: 'Kind', td: (i) => h('span.tag', i.kind) },
    { cls: 'value', head: 'Indicator', td: (i) => [h('div.mono.ind-value', { dataset: { kind: i.kind } }, i.value), i.description ? h('div.sub', { title: i.description }, i.description) : null] },
    { cls: 'source', head: 'Source', td: (i) => [h('a', { href: `/ui/intel?source=${encodeURIComponent(i.source)}` }, i.source), i.owner && (national || i.owner === me.org_id) ? h('div.sub', i.owner === me.org_id ? 'shared by you' : `shared by ${i.owner}`) : null] },
    { cls: 'num', head: 'Confidence', td: (i) => confidence(i.confidence) },
    { cls: 'tlp-cell', head: 'TLP', td: (i) => tlpChip(i.tlp) },
    { cls: 'time', head: 'Valid until', td: (i) => (i.valid_until ? timeEl(i.valid_until) : h('span.note', { title: 'No end given: the confidence decays with age unless the source renews it' }, 'decays')) },
    { cls: 'labels', head: 'Labels', td: (i) => (i.labels || []).slice(0, 4).map((l) => h('span.tag', l)) },
    { cls: 'actions', head: '', td: (i) => [
      h('button.small.copy', { type: 'button', title: `Copy ${i.value}`, onclick: async () => toast((await copy(i.value)) ? `Copied ${i.value}` : 'Copy failed.', 'ok') }, 'Copy'), ' ',
      h('a.button.small', { href: searchURL({ value: i.value, since: '168h' }), title: `Events containing ${i.value}` }, 'Events'), ' ',
      h('a.button.small', { href: `/ui/alerts?rule_id=${encodeURIComponent('ioc:' + i.id)}&status=all`, title: 'Alerts this indicator raised' }, 'Alerts'),
      national && can.triage ? [' ', h('button.small.danger.del', { type: 'button', dataset: { id: i.id }, onclick: () => del(i) }, 'Delete')] : null] },
  ];

  function draw() {
    for (const i of items) sources.add(i.source);
    replace(sourceList, [...sources].sort().map((s) => h('option', { value: s })));
    const tbody = h('tbody', items.map((i) => h('tr', { dataset: { id: i.id, value: i.value, kind: i.kind } }, cols.map((c) => h('td', { class: c.cls }, c.td(i))))));
    if (!items.length) {
      const filteredOut = q.get('q') || q.get('kind') || q.get('source') || q.get('active');
      tbody.append(h('tr.empty-row', h('td', { colspan: cols.length }, filteredOut ? 'No indicator matches these filters.'
        : 'No indicator yet: import a STIX bundle, a MISP event or a list, or configure feeds (docs/INTEL.md).')));
    }
    replace(tableWrap, h('table.grid.indicators-list', h('thead', h('tr', cols.map((c) => h('th', { class: c.cls, scope: 'col' }, c.head)))), tbody));
    replace(count, `${num(total)} indicator${total === 1 ? '' : 's'}`, items.length < total ? ` · ${num(items.length)} shown` : '');
    replace(more, items.length < total ? h('button#in-more', { type: 'button', onclick: () => load(true) }, `Load ${PAGE} more`) : '');
  }

  async function del(i) {
    if (!(await confirm('Delete indicator', `Delete the ${i.kind} ${i.value} (${i.source})? Events stop matching it at once. A feed that still lists it brings it back at its next pull.`, 'Delete', true))) return;
    try {
      await api(`indicators/${encodeURIComponent(i.id)}`, { method: 'DELETE' });
      toast(`${i.value} deleted.`, 'ok');
    } catch (e) {
      toast(e.message, 'error');
    }
    if (alive) load();
  }

  // importForm keeps the import dialog's fields for the page's life, so a
  // text refused for a mistake can be corrected and sent again.
  function importForm() {
    let touched = false; // the format was chosen by hand
    const format = h('select#imp-format', { 'aria-label': 'Format', onchange: () => (touched = true) }, FORMATS.map(([v, t]) => h('option', { value: v }, t)));
    const source = h('input#imp-source', { placeholder: `analyst:${me.user}`, 'aria-label': 'Source', autocomplete: 'off' });
    const tlp = h('select#imp-tlp', { 'aria-label': 'TLP' }, h('option', { value: '' }, national ? 'As marked (else clear)' : 'As marked (else amber)'), TLPS.map((t) => h('option', { value: t }, 'TLP:' + t.toUpperCase())));
    const conf = h('input#imp-confidence', { type: 'number', min: 0, max: 100, step: 1, placeholder: '50', 'aria-label': 'Confidence', size: 5 });
    const file = h('input#imp-file', { type: 'file', accept: '.json,.txt,.csv,.stix,application/json,text/plain,text/csv', 'aria-label': 'File' });
    const body = h('textarea#imp-body.mono', { rows: 10, spellcheck: 'false', 'aria-label': 'Indicators',
      placeholder: '{"type": "bundle", "objects": [...]}\n— or —\n203.0.113.7\nevil[.]example' });
    const fileNote = h('span.note#imp-file-note');
    body.addEventListener('input', () => {
      if (!touched && body.value.trim()) format.value = guessFormat(body.value);
    });
    file.addEventListener('change', async () => {
      const f = file.files && file.files[0];
      replace(fileNote);
      if (!f) return;
      if (f.size > MAX_IMPORT) {
        replace(fileNote, `${f.name} is larger than 64 MiB.`);
        file.value = '';
        return;
      }
      replace(fileNote, `${f.name}: ${num(f.size)} bytes; it is sent as it is, instead of the text below.`);
      if (!touched) {
        const ext = (f.name.split('.').pop() || '').toLowerCase();
        format.value = ext === 'csv' ? 'csv' : ext === 'txt' ? 'list' : guessFormat(await f.slice(0, 4096).text());
      }
    });
    return {
      open: () => dialog({
        title: 'Import indicators',
        cls: 'wide',
        body: [
          h('div.form-row', h('label', 'Format', format), h('label', 'Source', source)),
          h('div.form-row', h('label', 'TLP (when the data has none)', tlp), h('label', 'Confidence (0-100)', conf)),
          h('label', 'File', file, fileNote),
          h('label', 'Or paste', body),
        ],
        buttons: [{ label: 'Import', value: 'import', primary: true }],
        validate: () => {
          const f = file.files && file.files[0];
          if (!f && !body.value.trim()) return 'Choose a file or paste the indicators.';
          if (!f && new Blob([body.value]).size > MAX_IMPORT) return 'The text is larger than 64 MiB: import it as a file.';
          const c = conf.value.trim();
          if (c && !(Number(c) >= 0 && Number(c) <= 100)) return 'Confidence is a number from 0 to 100.';
          return '';
        },
        submit: async () => {
          const f = file.files && file.files[0];
          const fmt = format.value;
          const r = await api('indicators', { method: 'POST', query: { format: fmt, source: source.value.trim(), tlp: tlp.value, confidence: conf.value.trim() },
            raw: f || body.value, type: fmt === 'csv' ? 'text/csv' : fmt === 'list' ? 'text/plain' : 'application/json' });
          return { ...r, source: source.value.trim() || `analyst:${me.user}` };
        },
      }).then((r) => {
        if (!r || !alive) return;
        showResult(r);
        if (!(r.errors || []).length) {
          body.value = '';
          file.value = '';
          replace(fileNote);
          touched = false;
        }
        load();
      }),
    };
  }

  function showResult(r) {
    const errs = r.errors || [];
    result.hidden = false;
    result.className = 'banner import-result ' + (errs.length ? 'has-errors' : 'ok');
    replace(result,
      h('div.import-head',
        h('span', h('strong', `Imported from ${r.source}: `),
          h('span#imp-added', `${num(r.added)} added`), ', ', h('span#imp-updated', `${num(r.updated)} updated`),
          errs.length ? [', ', h('span#imp-error-count', `${num(errs.length)} skipped`)] : ''),
        h('button.link', { type: 'button', onclick: () => (result.hidden = true), 'aria-label': 'Dismiss' }, 'dismiss')),
      errs.length ? h('ul.problems#imp-errors', errs.slice(0, 200).map((e) => h('li', e)), errs.length > 200 ? h('li', `… and ${num(errs.length - 200)} more`) : null) : null);
    toast(`${num(r.added)} indicator${r.added === 1 ? '' : 's'} added, ${num(r.updated)} updated${errs.length ? `, ${num(errs.length)} skipped` : ''}.`, errs.length && !r.added && !r.updated ? 'error' : 'ok');
  }

  ctx.keys({
    '/': () => text.focus(),
    i: () => importer && importer.open(),
    r: () => load(),
  });

  sync();
  load();
  return {
    update(nq) {
      q = nq;
      sync();
      load();
    },
    destroy() {
      alive = false;
      ctl.abort();
    },
  };
}

function confidence(n) {
  if (n == null) return '—';
  const cls = n >= 75 ? 'hi' : n >= 40 ? 'mid' : 'lo';
  return h('span.conf', { class: 'conf-' + cls, title: `Confidence ${n} of 100` }, h('span.conf-bar', h('span', { style: { width: `${Math.max(0, Math.min(100, n))}%` } })), h('span.conf-n', String(n)));
}
