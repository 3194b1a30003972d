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

  // appointments (route pending: shapes are our proposal)
  appointmentCancel: function (reason) { return reason ? { reason: reason } : {}; },
  appointmentReschedule: function (reason, preferredDates) { return { reason: reason || '', preferred_dates: (preferredDates || []).slice(0, 3) }; },

  // subscriptions reports wx.requestSubscribeMessage answers: template id and result only.
  subscriptions: function (results) {
    return { results: results.map(function (r) { return { template_id: r.template_id, result: r.result }; }) };
  },
  questionnaireAnswers: function (answers) { return { answers: answers.slice() }; }
};

module.exports = B;
