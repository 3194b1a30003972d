// Idempotency-Key per user action, for the routes whose spec takes one (appointment
// confirm / cancel / reschedule request; see utils/endpoints.js `idempotent`).
//
// An action is its scope (endpoint + record, e.g. 'appointmentCancel:ap1') plus what is
// sent. Doing the same thing again while the last try got no answer from the server
// (network down, 5xx, app closed mid-request) reuses the key, so the server replays the
// first result instead of acting twice. Once the server has answered (success or a 4xx)
// the action is over and the next one gets a new key; a different body is a new action
// too. Keys are kept in storage (the app may be closed mid-request) for a day at most.
const storage = require('./storage');
const ids = require('./ids');

const KEY = 'cp.idem';
const MAX_AGE_MS = 24 * 3600 * 1000;
const MAX_ENTRIES = 50;

function load(now) {
  const all = storage.get(KEY, {});
  const out = {};
  Object.keys(all || {}).forEach(function (s) {
    const e = all[s];
    if (e && typeof e.key === 'string' && now - e.at < MAX_AGE_MS) out[s] = e;
  });
  return out;
}

function save(all) {
  const scopes = Object.keys(all).sort(function (a, b) { return all[b].at - all[a].at; }).slice(0, MAX_ENTRIES);
  const out = {};
  scopes.forEach(function (s) { out[s] = all[s]; });
  storage.set(KEY, out);
}

// keyFor returns the key for this action: the kept one when scope and body match an
// unfinished try, else a new one (remembered until done() is called).
function keyFor(scope, body) {
  const now = Date.now();
  const all = load(now);
  const fp = JSON.stringify(body === undefined ? null : body);
  const e = all[scope];
  if (e && e.fp === fp) return e.key;
  const key = ids.newId('k');
  all[scope] = { key: key, fp: fp, at: now };
  save(all);
  return key;
}

function done(scope) {
  const all = load(Date.now());
  if (!all[scope]) return;
  delete all[scope];
  save(all);
}

// answered: the server decided (2xx, or a 4xx about the request) — the action is over.
// Network failures (status 0), 401 after a failed refresh, 429 and 5xx leave it open.
function answered(err) {
  if (!err) return true;
  const s = err.status;
  return typeof s === 'number' && s >= 400 && s < 500 && s !== 401 && s !== 408 && s !== 429;
}

// send runs api.request(name, opts) with the action's key and finishes the action once
// the server has answered.
function send(api, name, scope, opts) {
  const key = keyFor(name + ':' + scope, opts.data);
  return api.request(name, Object.assign({}, opts, { idempotencyKey: key })).then(function (res) {
    done(name + ':' + scope);
    return res;
  }, function (err) {
    if (answered(err)) done(name + ':' + scope);
    throw err;
  });
}

function forgetAll() { storage.remove(KEY); }

module.exports = { keyFor, done, send, answered, forgetAll, KEY, MAX_AGE_MS };
