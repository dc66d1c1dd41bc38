// autocannon hook: every request revalidates with the newest ETag, as a polling client or a CDN edge does.
/* global module, require */
// autocannon require()s its hooks, so they are CommonJS.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const latest = require('./latest-etag.cjs');

module.exports = function setupRequest(req) {
  return { ...req, headers: { ...req.headers, 'if-none-match': latest.value } };
};
