// fnhost's JavaScript runtime for the embedded engine: CommonJS `require`, `console`, timers,
// TextEncoder/TextDecoder, URL/URLSearchParams, and the Kubeless call itself (event, context,
// extensions.request/response, return-value mapping). Engine-neutral: it needs from the host
// only `__fnhost_host.readFile(path) -> string | null | undefined` and `__fnhost_host.print(stream, text)`,
// and is driven through three globals:
//   __fnhost_load(configJson)   loads the function module; throws if it cannot
//   __fnhost_call(callJson)     starts a call; returns a state string (below)
//   __fnhost_poll('', nowMs)    runs due timers; returns a state string
// State strings: "R" + result JSON (done), "W" + milliseconds (waiting for a timer),
// "I" (waiting on nothing: a promise that can never settle).
// fnhost evaluates this file after loaders/api/js/kubeless.js (the `kubeless` helpers).
'use strict';
(function () {
  const host = globalThis.__fnhost_host;
  delete globalThis.__fnhost_host;

  // ---- paths and CommonJS ----
  const normalize = (path) => {
    const out = [];
    for (const part of path.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') out.pop(); else out.push(part);
    }
    return '/' + out.join('/');
  };
  const dirname = (path) => path.slice(0, path.lastIndexOf('/')) || '/';
  const cache = new Map();
  let searchPath = [];

  function fileOrDirectory(base) {
    for (const candidate of [base, base + '.js', base + '.json']) {
      const text = host.readFile(candidate);
      if (text != null) return [candidate, text];
    }
    const pkg = host.readFile(base + '/package.json');
    if (pkg != null) {
      const main = JSON.parse(pkg).main;
      if (main) {
        const found = fileOrDirectory(normalize(base + '/' + main));
        if (found) return found;
      }
    }
    const index = host.readFile(base + '/index.js');
    return index == null ? null : [base + '/index.js', index];
  }

  function resolve(name, fromDir) {
    if (name.startsWith('./') || name.startsWith('../') || name.startsWith('/')) {
      const found = fileOrDirectory(normalize(name.startsWith('/') ? name : fromDir + '/' + name));
      if (found) return found;
    } else {
      const dirs = [];
      for (let dir = fromDir; ; dir = dirname(dir)) {
        dirs.push(dir + '/node_modules');
        if (dir === '/') break;
      }
      for (const dir of dirs.concat(searchPath)) {
        const found = fileOrDirectory(normalize(dir + '/' + name));
        if (found) return found;
      }
    }
    const error = new Error(`Cannot find module '${name}' from ${fromDir}`);
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }

  function load(path, text) {
    if (cache.has(path)) return cache.get(path).exports;
    const module = { id: path, filename: path, exports: {}, loaded: false };
    cache.set(path, module);
    try {
      if (path.endsWith('.json')) {
        module.exports = JSON.parse(text);
      } else {
        const wrapper = (0, eval)(
          '(function (exports, require, module, __filename, __dirname) {' + text + '\n})');
        const dir = dirname(path);
        wrapper.call(module.exports, module.exports, makeRequire(dir), module, path, dir);
      }
    } catch (e) {
      cache.delete(path);
      throw e;
    }
    module.loaded = true;
    return module.exports;
  }

  function makeRequire(dir) {
    const require = (name) => {
      if (name in builtins) return builtins[name];
      const [path, text] = resolve(name, dir);
      return load(path, text);
    };
    require.resolve = (name) => resolve(name, dir)[0];
    require.cache = cache;
    return require;
  }

  // ---- console ----
  function inspect(value, depth) {
    if (typeof value === 'string') return depth ? JSON.stringify(value) : value;
    if (typeof value === 'function') return `[Function: ${value.name || 'anonymous'}]`;
    if (value instanceof Error) return value.stack ? `${value.name}: ${value.message}\n${value.stack}` : String(value);
    if (value === null || typeof value !== 'object') return String(value);
    if (depth > 2) return Array.isArray(value) ? '[Array]' : '[Object]';
    if (Array.isArray(value)) return '[ ' + value.map((v) => inspect(v, depth + 1)).join(', ') + ' ]';
    const entries = Object.keys(value).map((k) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}: ${inspect(value[k], depth + 1)}`);
    return entries.length ? '{ ' + entries.join(', ') + ' }' : '{}';
  }
  function format(args) {
    if (typeof args[0] === 'string' && /%[sdifjoO%]/.test(args[0])) {
      let i = 1;
      const head = args[0].replace(/%[sdifjoO%]/g, (m) => {
        if (m === '%%') return '%';
        if (i >= args.length) return m;
        const v = args[i++];
        if (m === '%d' || m === '%i') return String(parseInt(v, 10));
        if (m === '%f') return String(parseFloat(v));
        if (m === '%j') return JSON.stringify(v);
        return inspect(v, m === '%s' ? 0 : 1);
      });
      return [head].concat(args.slice(i).map((a) => inspect(a, 0))).join(' ');
    }
    return args.map((a) => inspect(a, 0)).join(' ');
  }
  const out = (...args) => host.print(1, format(args) + '\n');
  const err = (...args) => host.print(2, format(args) + '\n');
  globalThis.console = { log: out, info: out, debug: out, error: err, warn: err, trace: err };

  // ---- timers ----
  let now = 0;
  let nextTimer = 1;
  const timers = new Map();
  function schedule(callback, ms, args, repeat) {
    if (typeof callback !== 'function') throw new TypeError('the callback must be a function');
    const id = nextTimer++;
    // As Node.js: a delay that is not a number from 1 to 2^31 - 1 ms is 1 ms.
    let delay = Number(ms);
    if (!(delay >= 1 && delay <= 2147483647)) delay = 1;
    timers.set(id, { callback, args, due: now + delay, repeat: repeat ? Math.max(1, delay) : 0 });
    return id;
  }
  globalThis.setTimeout = (cb, ms, ...args) => schedule(cb, ms, args, false);
  globalThis.setInterval = (cb, ms, ...args) => schedule(cb, ms, args, true);
  globalThis.setImmediate = (cb, ...args) => schedule(cb, 0, args, false);
  globalThis.clearTimeout = globalThis.clearInterval = globalThis.clearImmediate = (id) => { timers.delete(id); };
  if (typeof globalThis.queueMicrotask !== 'function') {
    globalThis.queueMicrotask = (cb) => { Promise.resolve().then(cb); };
  }
  function runDueTimers() {
    for (const [id, timer] of [...timers].sort((a, b) => a[1].due - b[1].due)) {
      if (timer.due > now) break;
      if (timers.get(id) !== timer) continue; // cleared by a callback of this pass
      if (timer.repeat) timer.due = now + timer.repeat; else timers.delete(id);
      timer.callback(...timer.args);
    }
  }
  function nextDue() {
    let due = Infinity;
    for (const timer of timers.values()) due = Math.min(due, timer.due);
    return due;
  }

  // ---- TextEncoder / TextDecoder (UTF-8) ----
  if (typeof globalThis.TextEncoder !== 'function') {
    globalThis.TextEncoder = class TextEncoder {
      get encoding() { return 'utf-8'; }
      encode(text = '') {
        const s = unescape(encodeURIComponent(String(text)));
        const bytes = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
        return bytes;
      }
    };
    globalThis.TextDecoder = class TextDecoder {
      get encoding() { return 'utf-8'; }
      decode(bytes = new Uint8Array(0)) {
        const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes.buffer || bytes);
        let s = '';
        for (let i = 0; i < view.length; i++) s += String.fromCharCode(view[i]);
        try { return decodeURIComponent(escape(s)); } catch (e) { return s; }
      }
    };
  }

  // ---- URLSearchParams / URL ----
  const decode = (s) => {
    const text = s.replace(/\+/g, ' ');
    try { return decodeURIComponent(text); } catch (e) { return text; } // malformed %-escapes stay as sent
  };
  const form = (s) => encodeURIComponent(s).replace(/%20/g, '+');
  class URLSearchParams {
    constructor(init = '') {
      this.list = [];
      if (typeof init === 'string') {
        for (const pair of init.replace(/^\?/, '').split('&')) {
          if (!pair) continue;
          const at = pair.indexOf('=');
          this.list.push(at < 0 ? [decode(pair), ''] : [decode(pair.slice(0, at)), decode(pair.slice(at + 1))]);
        }
      } else if (init && typeof init === 'object') {
        for (const [k, v] of Array.isArray(init) ? init : Object.entries(init)) this.list.push([String(k), String(v)]);
      }
    }
    get(name) { const e = this.list.find(([k]) => k === name); return e ? e[1] : null; }
    getAll(name) { return this.list.filter(([k]) => k === name).map(([, v]) => v); }
    has(name) { return this.list.some(([k]) => k === name); }
    set(name, value) { this.delete(name); this.list.push([name, String(value)]); }
    append(name, value) { this.list.push([name, String(value)]); }
    delete(name) { this.list = this.list.filter(([k]) => k !== name); }
    entries() { return this.list[Symbol.iterator](); }
    keys() { return this.list.map(([k]) => k)[Symbol.iterator](); }
    values() { return this.list.map(([, v]) => v)[Symbol.iterator](); }
    forEach(fn) { for (const [k, v] of this.list) fn(v, k, this); }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this.list.map(([k, v]) => form(k) + '=' + form(v)).join('&'); }
  }
  class URL {
    constructor(input, base) {
      const match = /^([a-zA-Z][\w+.-]*:)\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/.exec(String(input));
      if (!match) {
        if (base === undefined) throw new TypeError(`Invalid URL: ${input}`);
        const b = new URL(base);
        const path = String(input).startsWith('/') ? String(input) : dirname(b.pathname) + '/' + input;
        return new URL(`${b.protocol}//${b.host}${path}`);
      }
      [, this.protocol, this.host, this.pathname, this.search = '', this.hash = ''] = match;
      if (!this.pathname) this.pathname = '/';
      const at = this.host.lastIndexOf(':');
      this.hostname = at > 0 && !this.host.endsWith(']') ? this.host.slice(0, at) : this.host;
      this.port = at > 0 && !this.host.endsWith(']') ? this.host.slice(at + 1) : '';
      this.searchParams = new URLSearchParams(this.search);
    }
    get origin() { return `${this.protocol}//${this.host}`; }
    get href() { return `${this.protocol}//${this.host}${this.pathname}${this.search}${this.hash}`; }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }
  if (typeof globalThis.URLSearchParams !== 'function') globalThis.URLSearchParams = URLSearchParams;
  if (typeof globalThis.URL !== 'function') globalThis.URL = URL;

  const builtins = { url: { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams } };

  // ---- the Kubeless call ----
  let handler = null;
  let context = null;
  let current = null;

  globalThis.__fnhost_load = (configJson) => {
    const config = JSON.parse(configJson);
    searchPath = config.searchPath;
    context = config.context;
    const [path, text] = resolve('./' + config.module, config.dir);
    const exported = load(path, text);
    handler = typeof exported === 'function' && typeof exported[config.handler] !== 'function'
      ? exported : exported[config.handler];
    if (typeof handler !== 'function') {
      throw new Error(`module.exports.${config.handler} of ${config.module} is not a function`);
    }
    return 'loaded';
  };

  function makeRequest(call, body) {
    const headers = {};
    for (const [name, value] of call.headers) {
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    const url = call.query ? `${call.path}?${call.query}` : call.path;
    const query = {};
    for (const [k, v] of new globalThis.URLSearchParams(call.query)) query[k] = v;
    return {
      method: call.method, url, originalUrl: url, path: call.path, query, headers, body,
      get: (name) => headers[String(name).toLowerCase()],
      header: (name) => headers[String(name).toLowerCase()],
      is: (...types) => kubeless.typeIs(headers['content-type'], types),
    };
  }

  function makeResponse(finish) {
    const res = {
      statusCode: 200, headerList: [], chunks: [], finished: false,
      status(code) { res.statusCode = code; return res; },
      set(name, value) {
        if (typeof name === 'object') { for (const k of Object.keys(name)) res.set(k, name[k]); return res; }
        res.headerList = res.headerList.filter(([n]) => n.toLowerCase() !== String(name).toLowerCase());
        for (const v of [].concat(value)) res.headerList.push([String(name), String(v)]);
        return res;
      },
      header(name, value) { return res.set(name, value); },
      setHeader(name, value) { return res.set(name, value); },
      append(name, value) { for (const v of [].concat(value)) res.headerList.push([String(name), String(v)]); return res; },
      get(name) { const h = res.headerList.find(([n]) => n.toLowerCase() === String(name).toLowerCase()); return h && h[1]; },
      type(value) { return res.set('content-type', value); },
      write(chunk) { if (chunk !== undefined && chunk !== null) res.chunks.push(String(chunk)); return true; },
      send(body) {
        if (body === undefined || body === null || typeof body === 'string') return res.end(body);
        return res.json(body);
      },
      json(value) {
        if (!res.get('content-type')) res.set('content-type', 'application/json; charset=utf-8');
        return res.end(JSON.stringify(value));
      },
      sendStatus(code) { res.statusCode = code; return res.end(String(code)); },
      end(chunk) {
        if (res.finished) return res;
        res.write(chunk);
        res.finished = true;
        finish({ status: res.statusCode, headers: res.headerList, body: res.chunks.join('') });
        return res;
      },
    };
    return res;
  }

  function state() {
    if (current.result !== null) {
      const text = 'R' + JSON.stringify(current.result);
      current = null;
      return text;
    }
    const due = nextDue();
    return due === Infinity ? 'I' : 'W' + Math.max(0, due - now);
  }

  globalThis.__fnhost_call = (callJson, nowMs) => {
    now = nowMs;
    timers.clear();
    const call = JSON.parse(callJson);
    // This call's own state: promise work a previous call left behind settles only its own.
    const mine = { result: null };
    current = mine;
    const settle = (result) => { if (mine.result === null) mine.result = result; };
    const fail = (e) => settle({ error: `Function failed to execute: ${e && e.stack ? `${e}\n${e.stack}` : e}` });
    const res = makeResponse(settle);
    try {
      const req = makeRequest(call, call.body);
      const event = {
        data: kubeless.eventData(call, call.body, (b) => b),
        'event-id': call.event.id || undefined,
        'event-type': call.event.type || undefined,
        'event-time': call.event.time || undefined,
        'event-namespace': call.event.namespace || undefined,
        extensions: { request: req, response: res },
      };
      const value = handler(event, context);
      if (value && typeof value.then === 'function') value.then((v) => kubeless.reply(v, res)).catch(fail);
      else kubeless.reply(value, res);
    } catch (e) {
      fail(e);
    }
    return state();
  };

  globalThis.__fnhost_poll = (_, nowMs) => {
    now = nowMs;
    try {
      runDueTimers();
    } catch (e) {
      if (current.result === null) current.result = { error: `Function failed to execute: ${e && e.stack ? `${e}\n${e.stack}` : e}` };
    }
    return state();
  };
})();
