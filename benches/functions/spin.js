// The respawn benchmark's function: ?mode=busy loops until fnhost kills the worker.
module.exports = {
  handler: (event) => {
    if (event.extensions.request.query.mode === 'busy') while (true) { /* spin */ }
    return 'ok';
  },
};
