// fnhost's Node.js worker: loads a Kubeless Node.js function unchanged and serves calls from
// fnhost over the worker protocol (docs/worker-protocol.md). Started by fnhost as
//   node nodejs-worker.js
// with FNHOST_WORKER_SOCKET, FNHOST_FUNCTION_DIR, MOD_NAME, FUNC_HANDLER and FNHOST_CONTEXT
// (the function's context as JSON) in the environment. No dependencies. fnhost writes this
// file after loaders/api/js/kubeless.js (the `kubeless` helpers).
'use strict';

const net = require('net');
const path = require('path');
const { Readable, Writable } = require('stream');

const PROTOCOL = 2;
const KIND = { READY: 1, CALL: 2, RESULT: 3 };
const CONCURRENCY = Number(process.env.FNHOST_WORKER_CONCURRENCY || 16);

function loadHandler() {
  const dir = process.env.FNHOST_FUNCTION_DIR || process.env.KUBELESS_INSTALL_VOLUME || '/kubeless';
  const modName = process.env.MOD_NAME;
  const handlerName = process.env.FUNC_HANDLER;
  const mod = require(path.join(dir, modName));
  const handler = typeof mod === 'function' && !mod[handlerName] ? mod : mod[handlerName];
  if (typeof handler !== 'function') {
    throw new Error(`Unable to load ${modName}.${handlerName}: module.exports.${handlerName} is not a function`);
  }
  return handler;
}

function frame(kind, id, header, body) {
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const bodyBytes = body ? Buffer.from(body) : Buffer.alloc(0);
  const out = Buffer.alloc(4 + 1 + 8 + 4 + headerBytes.length + bodyBytes.length);
  out.writeUInt32LE(1 + 8 + 4 + headerBytes.length + bodyBytes.length, 0);
  out.writeUInt8(kind, 4);
  out.writeBigUInt64LE(BigInt(id), 5);
  out.writeUInt32LE(headerBytes.length, 13);
  headerBytes.copy(out, 17);
  bodyBytes.copy(out, 17 + headerBytes.length);
  return out;
}

// An Express-like request: what Kubeless functions use of `extensions.request`, and a readable
// stream of the body, so body-parsing middleware (multer, body-parser) works on it. The stream
// is made on first use only: most functions never read it, and building one costs more than
// the rest of the call's JavaScript.
class Request {
  constructor(call, body) {
    const headers = {};
    for (const [name, value] of call.headers) {
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    this.method = call.method;
    this.url = this.originalUrl = call.query ? `${call.path}?${call.query}` : call.path;
    this.path = call.path;
    this.query = Object.fromEntries(new URLSearchParams(call.query));
    this.headers = headers;
    this.body = body;
    this.rawBody = body; // what the stream reads: middleware replaces `body` with what it parsed
    this.httpVersion = '1.1';
    this.httpVersionMajor = 1;
    this.httpVersionMinor = 1;
    this.bodyStream = null;
  }
  get(name) { return this.headers[String(name).toLowerCase()]; }
  header(name) { return this.get(name); }
  is(...types) { return kubeless.typeIs(this.headers['content-type'], types); }
  stream() {
    if (this.bodyStream === null) {
      this.bodyStream = new Readable({ read() {} });
      if (this.rawBody.length) this.bodyStream.push(this.rawBody);
      this.bodyStream.push(null);
    }
    return this.bodyStream;
  }
}
// Every method and property of a readable stream, on the request, reaching its body stream.
for (const proto of [Readable.prototype, Object.getPrototypeOf(Readable.prototype), Object.getPrototypeOf(Object.getPrototypeOf(Readable.prototype))]) {
  for (const key of Reflect.ownKeys(proto)) {
    if (key === 'constructor' || key in Request.prototype) continue;
    const d = Object.getOwnPropertyDescriptor(proto, key);
    Object.defineProperty(Request.prototype, key, typeof d.value === 'function'
      ? { value(...args) { const out = d.value.apply(this.stream(), args); return out === this.bodyStream ? this : out; } }
      : { get() { return this.stream()[key]; }, set(v) { this.stream()[key] = v; } });
  }
}

// An Express-like response that a function may write to (status, headers, send, json, pipe).
class Response extends Writable {
  constructor(onFinish) {
    super();
    this.statusCode = 200;
    this.headerList = [];
    this.chunks = [];
    this.finished = false;
    this.onFinish = onFinish;
  }
  _write(chunk, encoding, callback) { this.chunks.push(Buffer.from(chunk, encoding)); callback(); }
  _final(callback) { this.finish(); callback(); }
  status(code) { this.statusCode = code; return this; }
  set(name, value) {
    if (typeof name === 'object') { for (const k of Object.keys(name)) this.set(k, name[k]); return this; }
    this.headerList = this.headerList.filter(([n]) => n.toLowerCase() !== String(name).toLowerCase());
    for (const v of [].concat(value)) this.headerList.push([String(name), String(v)]);
    return this;
  }
  header(name, value) { return this.set(name, value); }
  setHeader(name, value) { return this.set(name, value); }
  append(name, value) { for (const v of [].concat(value)) this.headerList.push([String(name), String(v)]); return this; }
  get(name) { const h = this.headerList.find(([n]) => n.toLowerCase() === String(name).toLowerCase()); return h && h[1]; }
  type(value) { return this.set('content-type', value); }
  send(body) {
    if (body === undefined || body === null) return this.end();
    if (Buffer.isBuffer(body) || typeof body === 'string') return this.end(body);
    return this.json(body);
  }
  json(value) {
    if (!this.get('content-type')) this.set('content-type', 'application/json; charset=utf-8');
    return this.end(JSON.stringify(value));
  }
  sendStatus(code) { this.statusCode = code; return this.end(String(code)); }
  end(chunk, encoding) {
    if (this.finished) return this;
    if (chunk !== undefined && chunk !== null) this.chunks.push(Buffer.from(chunk, encoding));
    this.finish();
    return this;
  }
  finish() {
    if (this.finished) return;
    this.finished = true;
    this.onFinish({ status: this.statusCode, headers: this.headerList }, Buffer.concat(this.chunks));
  }
}

function serve(socket, handler) {
  const context = JSON.parse(process.env.FNHOST_CONTEXT);
  // Results written in the same tick leave in one write: cork on the first, uncork after.
  let corked = false;
  const send = (kind, id, header, body) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(() => { corked = false; socket.uncork(); });
    }
    socket.write(frame(kind, id, header, body));
  };
  const call = (id, header, body) => {
    const res = new Response((result, bytes) => send(KIND.RESULT, id, result, bytes));
    const fail = (err) => {
      if (res.finished) return;
      res.finished = true;
      send(KIND.RESULT, id, { error: `Function failed to execute: ${err && err.stack ? err.stack : err}` }, null);
    };
    try {
      const req = new Request(header, body);
      const event = {
        data: kubeless.eventData(header, body, (b) => b.toString('utf8')),
        'event-id': header.event.id || undefined,
        'event-type': header.event.type || undefined,
        'event-time': header.event.time || undefined,
        'event-namespace': header.event.namespace || undefined,
        extensions: { request: req, response: res },
      };
      Promise.resolve(handler(event, context)).then((value) => kubeless.reply(value, res), fail);
    } catch (err) {
      fail(err);
    }
  };
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= 4) {
      const length = buffered.readUInt32LE(0);
      if (buffered.length < 4 + length) break;
      const kind = buffered.readUInt8(4);
      const id = buffered.readBigUInt64LE(5);
      const headerLength = buffered.readUInt32LE(13);
      const header = JSON.parse(buffered.toString('utf8', 17, 17 + headerLength));
      const body = Buffer.from(buffered.subarray(17 + headerLength, 4 + length));
      buffered = buffered.subarray(4 + length);
      if (kind === KIND.CALL) call(id, header, body);
    }
  });
  socket.on('close', () => process.exit(0));
}

function main() {
  const handler = loadHandler();
  const socket = net.connect(process.env.FNHOST_WORKER_SOCKET, () => {
    socket.setNoDelay(true);
    socket.write(frame(KIND.READY, 0, { protocol: PROTOCOL, concurrency: CONCURRENCY, description: `node ${process.version} pid ${process.pid}` }, null));
    serve(socket, handler);
  });
  socket.on('error', (err) => { console.error(`fnhost worker: ${err.message}`); process.exit(1); });
}

main();
