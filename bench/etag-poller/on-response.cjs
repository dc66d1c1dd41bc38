// autocannon hook: a 200 carries a new ETag (the snapshot moves every second); remember it for the next requests.
/* global module, require */
// autocannon require()s its hooks, so they are CommonJS.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const latest = require('./latest-etag.cjs');

module.exports = function onResponse(status, _body, _context, headers) {
  if (status !== 200) return;
  // Header names come as the server wrote them ("ETag").
  for (const k in headers) if (k.toLowerCase() === 'etag') latest.value = String(headers[k]);
};
