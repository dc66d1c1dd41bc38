// The newest ETag of /v1/stats seen by this autocannon thread, shared by its two hooks (autocannon loads hooks from
/* global module */
// files in worker threads, so they cannot share a closure with the bench script).
module.exports = { value: '' };
