// Shared widgets: toasts, modal dialogs, panels, tables, pivot links.

import { h, replace, label, RESOLUTIONS } from './dom.js';

let toasts;

// toast shows a short message in the corner for a few seconds.
export function toast(msg, kind = 'info') {
  if (!toasts) {
    toasts = h('div.toasts', { role: 'status' });
    document.body.append(toasts);
  }
  const t = h('div.toast', { class: kind }, msg);
  toasts.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

// dialog opens a modal <dialog> with a title, body nodes and buttons
// [{label, value, primary, danger}]; it resolves with the chosen value
// (null on Escape). validate(value) may return an error text to keep it open.
// submit(value), when given, runs once the value is valid and may be async:
// the dialog resolves with what it returns, or, when it throws (the server
// refused), shows the error's message and stays open. cls widens or styles
// the dialog.
export function dialog({ title, body = [], buttons = [{ label: 'OK', value: true, primary: true }], validate, submit, cls }) {
  return new Promise((resolve) => {
    const err = h('p.form-error', { role: 'alert' });
    const form = h('form', { method: 'dialog' },
      h('h2', title), h('div.dialog-body', body), err,
      h('div.actions', [h('button', { type: 'button', value: '', class: 'ghost', onclick: () => close(null) }, 'Cancel'),
        ...buttons.map((b) => h('button', { type: 'submit', value: String(b.value), class: b.danger ? 'danger' : b.primary ? 'primary' : '' }, b.label))]));
    const dlg = h('dialog.modal', { class: cls }, form);
    let done = false;
    const close = (v) => {
      if (done) return;
      done = true;
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const btn = ev.submitter;
      const b = buttons.find((x) => String(x.value) === (btn ? btn.value : String(buttons[0].value)));
      const v = b ? b.value : true;
      const problem = validate && validate(v);
      if (problem) {
        replace(err, problem);
        return;
      }
      if (!submit) return close(v);
      replace(err);
      const btns = [...form.querySelectorAll('.actions button[type=submit]')];
      btns.forEach((x) => (x.disabled = true));
      Promise.resolve().then(() => submit(v)).then((out) => close(out), (e) => replace(err, e && e.message ? e.message : String(e)))
        .finally(() => btns.forEach((x) => (x.disabled = false)));
    });
    dlg.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      close(null);
    });
    document.body.append(dlg);
    dlg.showModal();
    const first = dlg.querySelector('input, select, textarea');
    if (first) first.focus();
  });
}

export async function confirm(title, text, okLabel = 'OK', danger = false) {
  return (await dialog({ title, body: [h('p', text)], buttons: [{ label: okLabel, value: true, primary: !danger, danger }] })) === true;
}

// closeDialog asks for the resolution (required) and an optional comment
// before closing n alerts (or incidents: noun). It resolves
// {resolution, comment} or null.
export async function closeDialog(n, noun = 'alert') {
  const sel = h('select#close-resolution', { required: true, 'aria-label': 'Resolution' },
    h('option', { value: '' }, 'Choose a resolution…'), RESOLUTIONS.map((r) => h('option', { value: r }, label(r))));
  const comment = h('textarea#close-comment', { rows: 3, placeholder: 'Comment (optional)' });
  const ok = await dialog({
    title: n === 1 ? `Close ${noun}` : `Close ${n} ${noun}s`,
    body: [h('label', 'Resolution', sel), h('label', 'Comment', comment)],
    buttons: [{ label: 'Close', value: 'close', primary: true }],
    validate: () => (sel.value ? '' : `A resolution is required to close an ${noun}.`),
  });
  return ok ? { resolution: sel.value, comment: comment.value.trim() } : null;
}

// panel is a titled card; extra nodes go to the right of the title.
export function panel(title, body, { extra, cls, id } = {}) {
  return h('section.panel', { class: cls, id }, h('header', h('h2', title), extra ? h('div.panel-extra', extra) : null), h('div.panel-body', body));
}

// table builds a <table> from column definitions [{key, label, cls, render(row)}].
export function table(cols, rows, { rowAttrs, emptyText = 'Nothing to show.', cls } = {}) {
  const thead = h('thead', h('tr', cols.map((c) => h('th', { class: c.cls, scope: 'col' }, c.label))));
  const tbody = h('tbody', rows.length
    ? rows.map((r, i) => h('tr', rowAttrs ? rowAttrs(r, i) : {}, cols.map((c) => h('td', { class: c.cls }, c.render ? c.render(r, i) : r[c.key] ?? '—'))))
    : h('tr.empty-row', h('td', { colspan: cols.length }, emptyText)));
  return h('table.grid', { class: cls }, thead, tbody);
}

// searchURL builds the investigation URL for a pivot on one value: as a
// field filter when the field is known, else as free text.
export function searchURL({ field, value, since = '24h' }) {
  const q = new URLSearchParams();
  if (since) q.set('since', since);
  if (field) q.append('field', `${field}:${value}`);
  else q.set('q', value);
  return `/ui/search?${q}`;
}

// pivot renders a value as a link to a new search for it, with a small
// second link for a free-text search when a field is given.
export function pivot(value, field, since) {
  if (value == null || value === '') return '—';
  const v = String(value);
  return h('span.pivot',
    h('a', { href: searchURL({ field, value: v, since }), title: field ? `Search events where ${field} = ${v}` : `Search events containing ${v}` }, v),
    field ? h('a.pivot-text', { href: searchURL({ value: v, since }), title: `Search events containing ${v} anywhere`, 'aria-label': `Search text ${v}` }, '⌕') : null);
}

export function spinner(text = 'Loading…') {
  return h('div.loading', { role: 'status' }, text);
}

export function errorBox(e) {
  return h('div.error-box', { role: 'alert' }, e && e.message ? e.message : String(e));
}
