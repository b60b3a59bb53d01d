// The API client. It sends the HttpOnly session cookie (same origin) and
// never keeps the token in JavaScript.

export class ApiError extends Error {
  constructor(status, code, message, problems = []) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.problems = problems; // lines of an invalid upload ("file.yml:5:5: ...")
  }
  // missing: the server has no such endpoint (yet): a 404/405 that is not
  // the API's own JSON error. The console shows "not available" then.
  get missing() {
    return this.code === 'no_endpoint';
  }
  get notFound() {
    return this.status === 404 && this.code === 'not_found';
  }
}

const listeners = { unauthenticated: [] };

// onUnauthenticated registers fn, called when any call answers 401.
export function onUnauthenticated(fn) {
  listeners.unauthenticated.push(fn);
}

// api calls path (relative to /api/v1/) and returns the decoded JSON, or
// null for 204. body is sent as JSON; raw is sent as it is, with the
// Content-Type type. It throws ApiError.
export async function api(path, { method = 'GET', body, raw, type, signal, query } = {}) {
  let url = '/api/v1/' + path.replace(/^\//, '');
  if (query) {
    const qs = query instanceof URLSearchParams ? query.toString() : new URLSearchParams(clean(query)).toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, signal };
  if (raw !== undefined) {
    init.headers['Content-Type'] = type || 'text/plain';
    init.body = raw;
  } else if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  if (resp.status === 204) return null;
  const ctype = resp.headers.get('Content-Type') || '';
  const json = ctype.includes('json') ? await resp.json().catch(() => null) : null;
  if (resp.ok) return json;
  const err = json && json.error;
  if (!err && (resp.status === 404 || resp.status === 405 || resp.status === 501)) {
    throw new ApiError(resp.status, 'no_endpoint', `${method} ${url.split('?')[0]} is not available on this server`);
  }
  if (resp.status === 401 && !path.startsWith('login')) listeners.unauthenticated.forEach((fn) => fn());
  const problems = err && Array.isArray(err.problems) ? err.problems.map(String) : [];
  throw new ApiError(resp.status, err ? err.code : 'http', err ? err.message : `HTTP ${resp.status}`, problems);
}

// clean drops empty values from a query object; arrays become repeated keys.
function clean(q) {
  const out = [];
  for (const [k, v] of Object.entries(q)) {
    if (v == null || v === '') continue;
    if (Array.isArray(v)) v.filter((x) => x !== '' && x != null).forEach((x) => out.push([k, String(x)]));
    else out.push([k, String(v)]);
  }
  return out;
}

// pages follows the cursor of a list endpoint until max items.
export async function pages(path, query, key, max, signal) {
  let out = [];
  let cursor = '';
  let total = 0;
  do {
    const r = await api(path, { query: { ...query, cursor }, signal });
    out = out.concat(r[key] || []);
    total = r.total;
    cursor = r.next;
  } while (cursor && out.length < max);
  return { items: out, total, truncated: !!cursor };
}

// Stream delivers new alerts to subscribers: from the server's SSE stream
// (GET /api/v1/stream, "event: alert"), or, where the server has none, by
// polling the alert list every 10 s. One connection serves the whole page.
class Stream {
  constructor() {
    this.subs = new Set();
    this.state = 'off'; // off, live, polling, down
    this.stateSubs = new Set();
    this.es = null;
    this.timer = null;
    this.seen = new Set();
  }
  subscribe(fn) {
    this.subs.add(fn);
    this.start();
    return () => this.subs.delete(fn);
  }
  onState(fn) {
    this.stateSubs.add(fn);
    fn(this.state);
    return () => this.stateSubs.delete(fn);
  }
  setState(s) {
    if (s === this.state) return;
    this.state = s;
    this.stateSubs.forEach((fn) => fn(s));
  }
  emit(a) {
    if (!a || !a.id) return;
    // An alert that folds a new hit comes again; subscribers decide.
    this.subs.forEach((fn) => fn(a));
  }
  start() {
    if (this.es || this.timer) return;
    if (!window.EventSource) return this.poll();
    const es = new EventSource('/api/v1/stream', { withCredentials: true });
    this.es = es;
    let opened = false;
    es.addEventListener('open', () => {
      opened = true;
      this.setState('live');
    });
    es.addEventListener('alert', (ev) => {
      try {
        this.emit(JSON.parse(ev.data));
      } catch {
        /* a malformed message is skipped */
      }
    });
    es.addEventListener('error', () => {
      if (!opened) {
        // No stream on this server (404) or refused: poll instead.
        es.close();
        this.es = null;
        this.poll();
      } else {
        this.setState(es.readyState === EventSource.CLOSED ? 'down' : 'reconnecting');
      }
    });
  }
  async poll() {
    this.setState('polling');
    let since = new Date(Date.now() - 60_000).toISOString();
    let first = true; // what exists at the start is not news
    const tick = async () => {
      try {
        const r = await api('alerts', { query: { level: 'high,critical', since, limit: 200, events: 'false' } });
        const fresh = (r.alerts || []).filter((a) => !this.seen.has(a.id + a.last_seen));
        for (const a of fresh.reverse()) {
          this.seen.add(a.id + a.last_seen);
          if (!first) this.emit(a);
        }
        first = false;
        if (this.seen.size > 5000) this.seen.clear();
        this.setState('polling');
        since = new Date(Date.now() - 30_000).toISOString();
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 401)) this.setState('down');
      }
    };
    await tick();
    this.timer = setInterval(tick, 10_000);
  }
  stop() {
    if (this.es) this.es.close();
    clearInterval(this.timer);
    this.es = null;
    this.timer = null;
    this.seen.clear();
    this.setState('off');
  }
}

export const stream = new Stream();
