// The dashboard's client of the public API: the key lives in sessionStorage
// (this tab only), a 401/403 asks for one, and errors come back as sentences.
const KEY_STORE = 'gridkeeper.apiKey';

export class Api {
  constructor(onNeedKey) {
    this.key = sessionStorage.getItem(KEY_STORE) || '';
    this.onNeedKey = onNeedKey;
  }

  setKey(key) {
    this.key = key;
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
  }

  headers(extra = {}) {
    return this.key ? { authorization: `Bearer ${this.key}`, ...extra } : extra;
  }

  async get(path, { quiet = false } = {}) {
    const res = await fetch(path, { headers: this.headers() });
    if (res.status === 401 && !quiet) this.onNeedKey('read');
    if (!res.ok) throw new ApiError(path, res.status, await problemText(res));
    return res.json();
  }

  /** A command: `method` with an optional JSON body; a missing or weak key asks for one. */
  async send(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: this.headers(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (res.status === 401 || res.status === 403) this.onNeedKey('control');
    if (!res.ok) throw new ApiError(path, res.status, await problemText(res));
    return res.status === 204 ? null : res.json();
  }
}

export class ApiError extends Error {
  constructor(path, status, text) {
    super(text || `${path}: HTTP ${status}`);
    this.status = status;
  }
}

/** RFC 9457 problem+json as one line: detail and every invalid field. */
async function problemText(res) {
  try {
    const p = await res.json();
    const fields = (p.errors ?? []).map((e) => `${e.pointer || e.path}: ${e.message}`).join('; ');
    return [p.detail || p.title, fields].filter(Boolean).join(' — ');
  } catch {
    return `HTTP ${res.status}`;
  }
}
