// Administration (national admin only): users, API and ingest tokens (the
// secret is shown once), and organisations.

import { h, replace, timeEl, label, copy } from '../lib/dom.js';
import { api } from '../lib/api.js';
import { SECTORS, sectorLabel } from '../lib/charts.js';
import { panel, table, errorBox, spinner, toast, confirm, dialog } from '../lib/ui.js';

const USER_ROLES = ['national_admin', 'national_analyst', 'org_analyst', 'org_viewer'];
const TOKEN_ROLES = ['ingest', ...USER_ROLES];
const orgRole = (r) => r === 'org_analyst' || r === 'org_viewer' || r === 'ingest';

export function mount(ctx) {
  ctx.title('Administration');
  const me = ctx.me;
  let alive = true;
  let orgs = [];
  const users = h('div#a-users', spinner());
  const tokens = h('div#a-tokens', spinner());
  const orgsEl = h('div#a-orgs', spinner());
  replace(ctx.root,
    h('div.page-head', h('h1', 'Administration')),
    h('div.admin-grid',
      panel('Users', [userForm(), users], { cls: 'p-users' }),
      panel('Tokens', [tokenForm(), tokens], { cls: 'p-tokens' }),
      panel('Organisations', [orgForm(), orgsEl], { cls: 'p-admin-orgs' })));

  async function loadOrgs() {
    try {
      orgs = (await api('orgs')).orgs || [];
      orgs.sort((a, b) => a.name.localeCompare(b.name));
      document.querySelectorAll('select.org-pick').forEach(fillOrgs);
      replace(orgsEl, table([
        { label: 'Name', render: (o) => h('a', { href: `/ui/orgs/${encodeURIComponent(o.id)}` }, o.name) },
        { label: 'Id', render: (o) => h('code', o.id) },
        { label: 'Sector', render: (o) => sectorLabel(o.sector) },
      ], orgs, { cls: 'compact' }));
    } catch (e) {
      replace(orgsEl, errorBox(e));
    }
  }

  async function loadUsers() {
    try {
      const r = await api('users');
      if (!alive) return;
      replace(users, table([
        { label: 'Name', render: (u) => h('strong', u.name) },
        { label: 'Role', render: (u) => label(u.role) },
        { label: 'Organisation', render: (u) => u.org_id || 'all' },
        { label: 'Created', render: (u) => timeEl(u.created) },
        { label: '', cls: 'actions', render: (u) => (u.name === me.user ? h('span.note', 'you') : h('button.small.danger', { type: 'button', dataset: { user: u.name }, onclick: () => delUser(u.name) }, 'Delete')) },
      ], r.users || [], { cls: 'compact', emptyText: 'No users.' }));
    } catch (e) {
      replace(users, errorBox(e));
    }
  }

  async function loadTokens() {
    try {
      const r = await api('tokens');
      if (!alive) return;
      replace(tokens, table([
        { label: 'Name', render: (t) => t.name },
        { label: 'Id', render: (t) => h('code', t.id) },
        { label: 'Role', render: (t) => label(t.role) },
        { label: 'Organisation', render: (t) => t.org_id || 'all' },
        { label: 'Created', render: (t) => timeEl(t.created) },
        { label: '', cls: 'actions', render: (t) => h('button.small.danger', { type: 'button', dataset: { token: t.id }, onclick: () => revoke(t) }, 'Revoke') },
      ], r.tokens || [], { cls: 'compact', emptyText: 'No tokens.' }));
    } catch (e) {
      replace(tokens, errorBox(e));
    }
  }

  function fillOrgs(sel) {
    const v = sel.value;
    replace(sel, h('option', { value: '' }, 'Organisation…'), orgs.map((o) => h('option', { value: o.id }, o.name)));
    sel.value = v;
  }

  function roleOrgPair(roles, prefix) {
    const role = h('select', { id: prefix + '-role', required: true, 'aria-label': 'Role' }, roles.map((r) => h('option', { value: r }, label(r))));
    const org = h('select.org-pick', { id: prefix + '-org', 'aria-label': 'Organisation' });
    fillOrgs(org);
    const sync = () => {
      org.hidden = !orgRole(role.value);
      org.required = !org.hidden;
    };
    role.addEventListener('change', sync);
    sync();
    return { role, org, sync };
  }

  function userForm() {
    const name = h('input#u-name', { placeholder: 'User name', required: true, autocomplete: 'off', 'aria-label': 'User name' });
    const pass = h('input#u-pass', { type: 'password', placeholder: 'Password (10+ characters)', required: true, minlength: 10, autocomplete: 'new-password', 'aria-label': 'Password' });
    const { role, org, sync } = roleOrgPair(USER_ROLES, 'u');
    role.value = 'national_analyst';
    sync();
    const err = h('p.form-error', { role: 'alert' });
    return h('form.inline-form', { onsubmit: async (ev) => {
      ev.preventDefault();
      replace(err);
      try {
        await api('users', { method: 'POST', body: { name: name.value.trim(), password: pass.value, role: role.value, org_id: orgRole(role.value) ? org.value : '' } });
        toast(`User ${name.value.trim()} created.`, 'ok');
        name.value = '';
        pass.value = '';
        loadUsers();
      } catch (e) {
        replace(err, e.message);
      }
    } }, name, pass, role, org, h('button.primary#u-create', { type: 'submit' }, 'Create user'), err);
  }

  function tokenForm() {
    const name = h('input#k-name', { placeholder: 'Token name (what uses it)', required: true, 'aria-label': 'Token name' });
    const { role, org } = roleOrgPair(TOKEN_ROLES, 'k');
    const err = h('p.form-error', { role: 'alert' });
    return h('form.inline-form', { onsubmit: async (ev) => {
      ev.preventDefault();
      replace(err);
      try {
        const r = await api('tokens', { method: 'POST', body: { name: name.value.trim(), role: role.value, org_id: orgRole(role.value) ? org.value : '' } });
        name.value = '';
        loadTokens();
        const secret = h('code.secret#k-secret', r.token);
        await dialog({
          title: 'Token created',
          body: [h('p', 'Copy the token now: it is shown only once and cannot be recovered.'), h('div.secret-box', secret,
            h('button', { type: 'button', onclick: async () => toast((await copy(r.token)) ? 'Copied.' : 'Copy failed: select the text.', 'ok') }, 'Copy'))],
          buttons: [{ label: 'I have copied it', value: true, primary: true }],
        });
      } catch (e) {
        replace(err, e.message);
      }
    } }, name, role, org, h('button.primary#k-create', { type: 'submit' }, 'Create token'), err);
  }

  function orgForm() {
    const name = h('input#o-name', { placeholder: 'Organisation name', required: true, 'aria-label': 'Organisation name' });
    const sector = h('select#o-sector-new', { required: true, 'aria-label': 'Sector' }, h('option', { value: '' }, 'Sector…'), SECTORS.map((s) => h('option', { value: s }, sectorLabel(s))));
    const err = h('p.form-error', { role: 'alert' });
    return h('form.inline-form', { onsubmit: async (ev) => {
      ev.preventDefault();
      replace(err);
      try {
        await api('orgs', { method: 'POST', body: { name: name.value.trim(), sector: sector.value } });
        toast(`${name.value.trim()} added.`, 'ok');
        name.value = '';
        loadOrgs();
      } catch (e) {
        replace(err, e.message);
      }
    } }, name, sector, h('button.primary', { type: 'submit' }, 'Add organisation'), err);
  }

  async function delUser(name) {
    if (!(await confirm('Delete user', `Delete the user ${name}? Their sessions end.`, 'Delete', true))) return;
    try {
      await api(`users/${encodeURIComponent(name)}`, { method: 'DELETE' });
      toast(`User ${name} deleted.`, 'ok');
    } catch (e) {
      toast(e.message, 'error');
    }
    loadUsers();
  }

  async function revoke(t) {
    if (!(await confirm('Revoke token', `Revoke the token “${t.name}” (${t.id})? Whatever uses it stops working at once.`, 'Revoke', true))) return;
    try {
      await api(`tokens/${encodeURIComponent(t.id)}`, { method: 'DELETE' });
      toast('Token revoked.', 'ok');
    } catch (e) {
      toast(e.message, 'error');
    }
    loadTokens();
  }

  loadOrgs();
  loadUsers();
  loadTokens();
  return {
    destroy() {
      alive = false;
    },
  };
}
