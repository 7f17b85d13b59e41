// An upstream-style Kubeless Node.js function for the trigger tests: every attempt is written
// to $RECORD_FILE as a JSON line (see the Python recorder). The message's data steers it:
//   {"fail": k}      the first k attempts of this message fail (a thrown error: 500)
//   {"throttle": k}  the first k attempts answer 503 (the function asks for less)
const fs = require('fs');

const attempts = new Map();

function record(event, attempt, ok) {
  const line = JSON.stringify({
    id: event['event-id'],
    namespace: event['event-namespace'],
    type: event['event-type'],
    time: event['event-time'],
    data: event.data,
    attempt,
    ok,
  });
  fs.appendFileSync(process.env.RECORD_FILE, line + '\n');
}

module.exports = {
  handle: (event, context) => {
    const id = event['event-id'];
    const attempt = (attempts.get(id) || 0) + 1;
    attempts.set(id, attempt);
    const data = event.data;
    if (data && typeof data === 'object') {
      if (attempt <= (data.fail || 0)) {
        record(event, attempt, false);
        throw new Error(`attempt ${attempt} fails`);
      }
      if (attempt <= (data.throttle || 0)) {
        record(event, attempt, false);
        event.extensions.response.status(503);
        return 'busy';
      }
    }
    record(event, attempt, true);
    return 'recorded';
  },
};
