// The Kubeless contract for JavaScript functions, shared word for word by fnhost's two
// JavaScript hosts: the Node.js worker (loaders/process/shims/nodejs-worker.js) and the
// embedded engine (loaders/js/js/runtime.js). Each host's source is this file followed by its
// own; nothing here touches Node.js APIs.
//
//   kubeless.typeIs(contentType, types)  Express's req.is: 'json', 'multipart/*', '*/json', '+json'
//   kubeless.eventData(call, body, text) event.data for the kind fnhost decided (call.data)
//   kubeless.reply(value, res)           a handler's return value written to the response
'use strict';

const kubeless = (() => {
  const SHORTHANDS = {
    json: 'application/json',
    urlencoded: 'application/x-www-form-urlencoded',
    multipart: 'multipart/*',
    html: 'text/html',
    text: 'text/plain',
    xml: 'application/xml',
  };

  function normalize(type) {
    if (type.startsWith('+')) return `*/*${type}`;
    return type.includes('/') ? type.toLowerCase() : SHORTHANDS[type.toLowerCase()] || null;
  }

  function matches(expected, actual) {
    const [type, subtype] = expected.split('/');
    const [actualType, actualSubtype] = actual.split('/');
    if (!subtype || !actualSubtype) return false;
    if (type !== '*' && type !== actualType) return false;
    if (subtype.startsWith('*+')) return actualSubtype.endsWith(subtype.slice(1));
    return subtype === '*' || subtype === actualSubtype;
  }

  // The first of `types` that the content type matches (the actual type for wildcards, as
  // Express answers), or false; null when the request has no content type.
  function typeIs(contentType, types) {
    const actual = String(contentType || '').split(';')[0].trim().toLowerCase();
    if (!actual) return null;
    const list = types.length === 1 && Array.isArray(types[0]) ? types[0] : types;
    if (list.length === 0) return actual;
    for (const type of list) {
      const expected = normalize(String(type));
      if (expected && matches(expected, actual)) {
        return type.startsWith('+') || type.includes('*') ? actual : type;
      }
    }
    return false;
  }

  // fnhost decided what the body is (call.data: empty, json or raw) and checked the
  // JSON; `text(body)` turns this host's body into a string. As upstream: no body is {} for
  // GET and HEAD, otherwise the (empty) body itself.
  function eventData(call, body, text) {
    switch (call.data) {
      case 'json': return JSON.parse(text(body));
      case 'empty': return call.method === 'GET' || call.method === 'HEAD' ? {} : body;
      default: return text(body);
    }
  }

  // Upstream's mapping: a string is the body; undefined is an empty body; numbers and
  // booleans are their JSON; anything else is sent as JSON. Nothing is written once the
  // function has ended the response itself.
  function reply(value, res) {
    if (res.finished) return;
    if (value === undefined) return res.end();
    if (typeof value === 'string') return res.end(value);
    if (typeof value === 'number' || typeof value === 'boolean') return res.end(JSON.stringify(value));
    return res.json(value);
  }

  return { typeIs, eventData, reply };
})();
