// Login: POST /api/v1/login sets the HttpOnly session cookie; the console
// then reads who it is from GET /api/v1/me.

import { h, replace } from '../lib/dom.js';
import { api } from '../lib/api.js';

export function mount(ctx) {
  ctx.title('Log in');
  const user = h('input#login-user', { name: 'username', autocomplete: 'username', required: true, autofocus: true });
  const pass = h('input#login-pass', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p.form-error', { role: 'alert' });
  const btn = h('button.primary#login-submit', { type: 'submit' }, 'Log in');
  const form = h('form.login-card', { onsubmit: submit },
    h('div.login-brand', h('img', { src: document.querySelector('link[rel=icon]').href, alt: '' }), h('div', h('h1', 'Mamori'), h('p', 'National cyber situational awareness'))),
    h('label', 'User name', user),
    h('label', 'Password', pass),
    err,
    btn);
  replace(ctx.root, h('div.login-page', form));
  user.focus();
  // Already signed in (a bookmark of the login page): go on.
  api('me').then((me) => {
    ctx.signedIn(me);
    ctx.navigate(nextURL(), { replace: true });
  }).catch(() => {});

  function nextURL() {
    const next = ctx.query.get('next') || '/ui/';
    return next.startsWith('/ui/') && !next.startsWith('/ui/login') ? next : '/ui/';
  }

  async function submit(ev) {
    ev.preventDefault();
    btn.disabled = true;
    replace(err);
    try {
      await api('login', { method: 'POST', body: { username: user.value.trim(), password: pass.value } });
      const me = await api('me');
      ctx.signedIn(me);
      ctx.navigate(nextURL(), { replace: true });
    } catch (e) {
      replace(err, e.status === 401 ? 'Wrong user name or password.' : e.message);
      pass.select();
    } finally {
      btn.disabled = false;
    }
  }
  return {};
}
