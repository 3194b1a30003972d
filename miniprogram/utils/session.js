// Who is using the app and whose record they are looking at. Every patient-scoped call
// uses selectedPatientId(): the user's own record or a relative from GET /api/v1/me.
const api = require('./api');
const storage = require('./storage');

const SELECTED_KEY = 'cp.selectedPatient';
let me = null;

// people lists the records this user may open: own first, then relatives.
function people(m) {
  m = m || me;
  if (!m) return [];
  const out = [];
  if (m.patient) out.push({ patientId: m.patient.id, name: m.patient.name, relationship: '本人', self: true, scopes: null });
  (m.relatives || []).forEach(function (r) {
    out.push({ patientId: r.patient_id, name: r.name, relationship: r.relationship, self: false, scopes: r.scopes || [] });
  });
  return out;
}

function current(m) {
  const list = people(m);
  if (!list.length) return null;
  const id = storage.get(SELECTED_KEY, '');
  return list.filter(function (p) { return p.patientId === id; })[0] || list[0];
}

function selectedPatientId() { const c = current(); return c ? c.patientId : ''; }

// preferPatient: a page opened from a push card or a notification carries ?patient=<id>;
// that record is shown if this user may see it (current() falls back to the first one).
function preferPatient(patientId) {
  if (patientId) storage.set(SELECTED_KEY, String(patientId));
}

function select(patientId) {
  if (people().some(function (p) { return p.patientId === patientId; })) storage.set(SELECTED_KEY, patientId);
  return current();
}

// can tells whether the current viewer may do `scope` on the selected record
// (the patient may do everything on their own record).
function can(scope, m) {
  const c = current(m);
  if (!c) return false;
  return c.self || (c.scopes || []).indexOf(scope) >= 0;
}

function load() {
  return api.request('me').then(function (m) { me = m; return m; });
}

function get() { return me; }
function set(m) { me = m; }
function clear() { me = null; storage.remove(SELECTED_KEY); }

module.exports = { load, get, set, clear, people, current, selectedPatientId, select, preferPatient, can, SELECTED_KEY };
