// Peers for the Node.js load benchmark, on Node's own `http` module (no dependencies):
//   node node_peer.js PORT bare   the same hello function behind a bare http server
//   node node_peer.js PORT vm     the original Kubeless Node.js runtime's design: every request
//                                 runs the function in a fresh `vm` context (re-created per call)
'use strict';
const http = require('http');
const vm = require('vm');
const path = require('path');

const [port, mode] = [Number(process.argv[2]), process.argv[3] || 'bare'];
const handler = require(path.join(__dirname, 'hello.js')).foo;
const script = new vm.Script('result = handler(event, context)');

function call(req, body) {
  const event = { data: body, 'event-id': req.headers['event-id'], extensions: { request: req } };
  const context = { 'function-name': 'foo', timeout: 180, runtime: 'nodejs20', 'memory-limit': '0' };
  if (mode === 'vm') {
    const sandbox = Object.assign({}, global, { handler, event, context, result: undefined });
    script.runInNewContext(sandbox, { timeout: 180000 });
    return sandbox.result;
  }
  return handler(event, context);
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const result = call(req, Buffer.concat(chunks));
    res.end(typeof result === 'string' ? result : JSON.stringify(result));
  });
}).listen(port, '127.0.0.1');
