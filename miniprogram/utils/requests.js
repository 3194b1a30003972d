// Request bodies, built in one place so the contract test can check every one of them
// against the request schemas in api/openapi.yaml.
const ids = require('./ids');

const B = {
  login: function (code) { return { code: code }; },
  refresh: function (refreshToken) { return { refresh_token: refreshToken }; },
  bindPhone: function (code) { return { code: code }; },
  acceptPrivacy: function (version) { return { kind: 'privacy_policy', version: version }; },
  grantHealthData: function (version) { return { kind: 'health_data', version: version, method: 'in_app' }; },
  withdrawConsent: function () { return { method: 'in_app' }; },
  sendText: function (text, clientMsgId) {
    return { client_msg_id: clientMsgId || ids.newId('m'), kind: 'text', text: text };
  },
  readThread: function (seq) { return { seq: seq }; },
  scopes: function (scopes) { return { scopes: scopes.slice() }; },
  invite: function (relationship, scopes) { return { relationship: relationship, scopes: scopes.slice() }; },

  // observation turns a validated reading into the server's ObservationInput. The client id
  // is the idempotency key: it is kept with the reading in the offline queue and re-sent
  // unchanged on every retry.
  observation: function (type, value, opts) {
    opts = opts || {};
    const body = { id: opts.id || ids.newId('r'), type: type, measured_at: opts.measuredAt, source: 'manual' };
    if (type === 'blood_pressure') {
      body.systolic = value.systolic; body.diastolic = value.diastolic;
      if (value.pulse !== undefined) body.pulse = value.pulse;
    } else if (type === 'glucose') {
      body.value = value.value; body.unit = value.unit || 'mmol/L';
      if (value.context) body.context = value.context;
    } else if (type === 'pain') {
      body.score = value.score;
      if (value.context) body.context = value.context;
      if (value.location) body.location = value.location;
    } else if (type === 'weight') {
      body.value = value.value; body.unit = 'kg';
    } else {
      throw new Error('unsupported reading type ' + type);
    }
    if (opts.note) body.note = opts.note;
    return body;
  },
  observationBatch: function (items) { return { items: items.slice(0, 100) }; },

  // appointments: a cancellation needs a reason (the page asks for one); a reschedule
  // request carries 1–3 preferred start times (RFC 3339) and an optional note.
  appointmentCancel: function (reason) { return { reason: String(reason || '').trim().slice(0, 255) }; },
  appointmentReschedule: function (preferredTimes, note) {
    const body = { preferred_times: (preferredTimes || []).slice(0, 3) };
    if (note) body.note = String(note).slice(0, 255);
    return body;
  },

  // subscriptions reports wx.requestSubscribeMessage answers: template id and result only.
  subscriptions: function (results) {
    return { results: results.slice(0, 5).map(function (r) { return { template_id: r.template_id, result: r.result }; }) };
  },
  // questionnaireAnswers: question key → answer (single/text: string, multiple: string[],
  // scale/number: number). Unanswered optional questions are left out.
  questionnaireAnswers: function (answers) {
    const out = {};
    Object.keys(answers || {}).forEach(function (k) {
      const v = answers[k];
      if (v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length)) return;
      out[k] = Array.isArray(v) ? v.slice() : v;
    });
    return { answers: out };
  },
  notificationsRead: function (ids) { return ids && ids.length ? { ids: ids.slice(0, 200) } : {}; },
  // deactivate: the server refuses anything but the typed word 注销 (confirm_required).
  deactivate: function (confirm, reason) {
    const body = { confirm: confirm };
    if (reason) body.reason = String(reason).slice(0, 200);
    return body;
  }
};

module.exports = B;
