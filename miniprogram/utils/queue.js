// Offline queue for readings. A reading is stored in wx storage BEFORE it is sent, with
// its client id (= Idempotency-Key), and is only dropped once the server has answered
// for it. Retries always reuse the same key, so a reading that did reach the server on a
// weak network is never saved twice (the server replays the first answer).
//
// flush() sends the queue through the batch endpoint (…/observations/batch, up to 100 per
// call); if that route is absent it falls back to one POST per reading with the
// Idempotency-Key header. Only one flush runs at a time.
const storage = require('./storage');
const requests = require('./requests');

const KEY = 'cp.readingQueue';
const REJECTED_KEY = 'cp.readingRejected';
const MAX_ITEMS = 500;
const BATCH_SIZE = 100;

function load() { return storage.get(KEY, []); }
function save(items) {
  // Never silently lose a reading: if the key would exceed 1 MB the oldest rejected
  // details are the only thing trimmed (MAX_ITEMS readings are far below the limit).
  return storage.set(KEY, items);
}

function pending(patientId) {
  return load().filter(function (q) { return !patientId || q.patientId === patientId; });
}

function rejected() { return storage.get(REJECTED_KEY, []); }
function clearRejected() { storage.remove(REJECTED_KEY); }

// enqueue stores a reading built by requests.observation (it carries its id). userId is
// the account that entered it: after a logout and another login on the same phone, only
// the readings of the account now logged in are sent (never under someone else's name).
function enqueue(patientId, body, userId) {
  if (!body || !body.id) throw new Error('a queued reading needs its client id');
  const items = load();
  if (items.some(function (q) { return q.id === body.id; })) return false;
  if (items.length >= MAX_ITEMS) return false;
  items.push({ id: body.id, patientId: patientId, userId: userId || '', body: body, queuedAt: Date.now(), attempts: 0 });
  return save(items);
}

function currentUser(api) {
  const t = api.tokens && api.tokens();
  return (t && t.userId) || '';
}

// forgetUser drops the readings an account left unsent: after that account is
// deactivated its tokens are gone and no one else may send them.
function forgetUser(userId) {
  if (!userId) return 0;
  const items = load();
  const keep = items.filter(function (q) { return q.userId !== userId; });
  save(keep);
  return items.length - keep.length;
}

function removeIds(ids) {
  const set = {};
  ids.forEach(function (i) { set[i] = true; });
  save(load().filter(function (q) { return !set[q.id]; }));
}

function reject(entries) {
  if (!entries.length) return;
  const list = rejected().concat(entries).slice(-50);
  storage.set(REJECTED_KEY, list);
}

function bump(ids, errMsg) {
  const set = {};
  ids.forEach(function (i) { set[i] = true; });
  save(load().map(function (q) {
    if (set[q.id]) { q.attempts += 1; q.lastError = errMsg || ''; q.lastTriedAt = Date.now(); }
    return q;
  }));
}

// permanent: an answer that a retry can never change (bad value, key reused with other content, no right).
function permanent(status) { return status === 400 || status === 403 || status === 404 || status === 409 || status === 422; }

let flushing = null;
let batchAbsent = false;

// flush sends everything queued; resolves { sent: [{id, result}], rejected: [{id, error}], remaining }.
// `api` is utils/api.js (injected so the queue can be tested with a fake).
function flush(api) {
  if (flushing) return flushing;
  flushing = doFlush(api).then(function (r) { flushing = null; return r; }, function (e) { flushing = null; throw e; });
  return flushing;
}

function doFlush(api) {
  const out = { sent: [], rejected: [], remaining: 0, error: null };
  const groups = {};
  const me = currentUser(api);
  load().forEach(function (q) {
    if (q.userId && me && q.userId !== me) return; // another account's reading: left for it
    (groups[q.patientId] = groups[q.patientId] || []).push(q);
  });
  let chain = Promise.resolve();
  Object.keys(groups).forEach(function (pid) {
    const items = groups[pid];
    for (let i = 0; i < items.length; i += BATCH_SIZE) {
      const chunk = items.slice(i, i + BATCH_SIZE);
      chain = chain.then(function () {
        if (out.error) return null; // offline: stop, keep the rest for later
        return sendChunk(api, pid, chunk, out);
      });
    }
  });
  return chain.then(function () {
    out.remaining = load().length;
    return out;
  });
}

function sendChunk(api, pid, chunk, out) {
  if (batchAbsent) return sendOneByOne(api, pid, chunk, out);
  const body = requests.observationBatch(chunk.map(function (q) { return q.body; }));
  return api.request('reportBatch', { params: { patientID: pid }, data: body }).then(function (res) {
    if (res === null) { batchAbsent = true; return sendOneByOne(api, pid, chunk, out); }
    const done = [];
    const bad = [];
    (res.results || []).forEach(function (r) {
      const q = chunk[r.index];
      if (!q) return;
      if (r.status >= 200 && r.status < 300) { done.push(q.id); out.sent.push({ id: q.id, result: r.result }); }
      else if (permanent(r.status)) {
        done.push(q.id);
        const e = { id: q.id, body: q.body, status: r.status, error: r.error || null };
        bad.push(e); out.rejected.push(e);
      }
    });
    removeIds(done);
    reject(bad);
    const left = chunk.filter(function (q) { return done.indexOf(q.id) < 0; }).map(function (q) { return q.id; });
    if (left.length) bump(left, 'server');
    return null;
  }, function (err) {
    // A server without the batch route (route_not_found): one POST per reading instead.
    if (err && err.code === 'route_not_found') { batchAbsent = true; return sendOneByOne(api, pid, chunk, out); }
    return handleError(pid, chunk, err, out);
  });
}

function sendOneByOne(api, pid, chunk, out) {
  let chain = Promise.resolve();
  chunk.forEach(function (q) {
    chain = chain.then(function () {
      if (out.error) return null;
      return api.request('reportObservation', { params: { patientID: pid }, data: q.body, idempotencyKey: q.id })
        .then(function (res) {
          if (res === null) { // the observations routes are not on this server yet: keep everything
            out.error = { status: 404, code: 'route_not_found', message: '服务器暂不支持上报' };
            return null;
          }
          removeIds([q.id]);
          out.sent.push({ id: q.id, result: res });
          return null;
        }, function (err) { return handleError(pid, [q], err, out); });
    });
  });
  return chain;
}

function handleError(pid, chunk, err, out) {
  const ids = chunk.map(function (q) { return q.id; });
  // route_not_found says nothing about the reading (wrong server, route not deployed):
  // keep it for later, never drop it as rejected.
  if (err && permanent(err.status) && err.code !== 'route_not_found') {
    removeIds(ids);
    const es = chunk.map(function (q) { return { id: q.id, body: q.body, status: err.status, error: { code: err.code, message: err.message } }; });
    reject(es);
    out.rejected = out.rejected.concat(es);
    return null;
  }
  bump(ids, err && err.code);
  out.error = { status: err && err.status, code: err && err.code, message: err && err.message };
  return null;
}

function _reset() { flushing = null; batchAbsent = false; }

module.exports = { enqueue, flush, forgetUser, pending, rejected, clearRejected, load, KEY, REJECTED_KEY, MAX_ITEMS, _reset };
