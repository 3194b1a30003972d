// Every HTTP route the mini-program calls, in ONE table, so the contract test
// (test/contract.test.js) can walk it against ../api/openapi.yaml. utils/api.js refuses a
// call that is not in this table, and a query parameter that is not listed here.
//
//   method, path  – exactly as written in the OpenAPI document
//   auth          – false for the login and refresh calls (no bearer token)
//   body          – name of the request-body builder in utils/requests.js
//   query         – the query parameters the app sends (each must be declared by the spec)
//   idempotent    – the call sends an Idempotency-Key header (kept across retries of the
//                   same user action, new for a new one). Exactly the routes whose spec
//                   declares the header; utils/api.js refuses such a call without a key.
//   download      – fetched with wx.downloadFile (a file, not JSON)
const E = {
  // auth & me
  login: { method: 'POST', path: '/api/v1/auth/wechat/login', auth: false, body: 'login' },
  refresh: { method: 'POST', path: '/api/v1/auth/refresh', auth: false, body: 'refresh' },
  logout: { method: 'POST', path: '/api/v1/auth/logout' },
  me: { method: 'GET', path: '/api/v1/me' },
  bindPhone: { method: 'POST', path: '/api/v1/me/phone', body: 'bindPhone' },
  myConsents: { method: 'GET', path: '/api/v1/me/consents' },
  acceptPrivacy: { method: 'POST', path: '/api/v1/me/consents', body: 'acceptPrivacy' },

  // patient record and care plan
  patient: { method: 'GET', path: '/api/v1/patients/{patientID}' },
  home: { method: 'GET', path: '/api/v1/patients/{patientID}/home' },
  plan: { method: 'GET', path: '/api/v1/patients/{patientID}/plan' },
  taskDone: { method: 'POST', path: '/api/v1/patients/{patientID}/plans/{planID}/tasks/{taskID}/done' },

  // education
  educationFeed: { method: 'GET', path: '/api/v1/patients/{patientID}/education', query: ['status'] },
  educationOpen: { method: 'GET', path: '/api/v1/patients/{patientID}/education/{assignmentID}' },
  educationFinished: { method: 'POST', path: '/api/v1/patients/{patientID}/education/{assignmentID}/finished' },
  article: { method: 'GET', path: '/api/v1/articles/{key}' },

  // messaging (WebSocket: /api/v1/ws, see utils/ws.js)
  thread: { method: 'GET', path: '/api/v1/patients/{patientID}/thread' },
  messages: { method: 'GET', path: '/api/v1/patients/{patientID}/thread/messages', query: ['after', 'before', 'limit'] },
  sendMessage: { method: 'POST', path: '/api/v1/patients/{patientID}/thread/messages', body: 'sendText' },
  sendImage: { method: 'POST', path: '/api/v1/patients/{patientID}/thread/messages', upload: true, formData: ['client_msg_id', 'file'] },
  readThread: { method: 'POST', path: '/api/v1/patients/{patientID}/thread/read', body: 'readThread' },
  recallMessage: { method: 'POST', path: '/api/v1/patients/{patientID}/thread/messages/{messageID}/recall' },

  // consents and access log
  patientConsents: { method: 'GET', path: '/api/v1/patients/{patientID}/consents' },
  grantHealthData: { method: 'POST', path: '/api/v1/patients/{patientID}/consents', body: 'grantHealthData' },
  withdrawConsent: { method: 'POST', path: '/api/v1/patients/{patientID}/consents/{consentID}/withdraw', body: 'withdrawConsent' },
  accessLog: { method: 'GET', path: '/api/v1/patients/{patientID}/access-log', query: ['cursor', 'limit'] },

  // family
  familyMembers: { method: 'GET', path: '/api/v1/patients/{patientID}/family/members' },
  familyScopes: { method: 'PUT', path: '/api/v1/patients/{patientID}/family/members/{linkID}/scopes', body: 'scopes' },
  familyRevoke: { method: 'POST', path: '/api/v1/patients/{patientID}/family/members/{linkID}/revoke' },
  invitations: { method: 'GET', path: '/api/v1/patients/{patientID}/family/invitations' },
  invite: { method: 'POST', path: '/api/v1/patients/{patientID}/family/invitations', body: 'invite' },
  withdrawInvitation: { method: 'POST', path: '/api/v1/patients/{patientID}/family/invitations/{invitationID}/withdraw' },
  previewInvitation: { method: 'GET', path: '/api/v1/family/invitations/{code}' },
  acceptInvitation: { method: 'POST', path: '/api/v1/family/invitations/{code}/accept' },

  // vitals
  reportObservation: { method: 'POST', path: '/api/v1/patients/{patientID}/observations', body: 'observation', idempotent: true },
  reportBatch: { method: 'POST', path: '/api/v1/patients/{patientID}/observations/batch', body: 'observationBatch' },
  trend: { method: 'GET', path: '/api/v1/patients/{patientID}/trends/{type}', query: ['range'] },

  // appointments
  appointments: { method: 'GET', path: '/api/v1/patients/{patientID}/appointments', query: ['when', 'limit'] },
  // (the three actions carry an Idempotency-Key per user action, see utils/idem.js)
  appointmentConfirm: { method: 'POST', path: '/api/v1/patients/{patientID}/appointments/{appointmentID}/confirm', idempotent: true },
  appointmentCancel: { method: 'POST', path: '/api/v1/patients/{patientID}/appointments/{appointmentID}/cancel', body: 'appointmentCancel', idempotent: true },
  appointmentReschedule: { method: 'POST', path: '/api/v1/patients/{patientID}/appointments/{appointmentID}/reschedule-request', body: 'appointmentReschedule', idempotent: true },

  // questionnaires (answers are sent once: the Idempotency-Key makes a retried submit safe)
  questionnaires: { method: 'GET', path: '/api/v1/patients/{patientID}/questionnaires', query: ['limit'] },
  questionnaire: { method: 'GET', path: '/api/v1/patients/{patientID}/questionnaires/{assignmentID}' },
  questionnaireAnswer: { method: 'POST', path: '/api/v1/patients/{patientID}/questionnaires/{assignmentID}/answers', body: 'questionnaireAnswers', idempotent: true },

  // notifications centre and subscription messages
  notifications: { method: 'GET', path: '/api/v1/patients/{patientID}/notifications', query: ['cursor', 'limit'] },
  notificationsRead: { method: 'POST', path: '/api/v1/patients/{patientID}/notifications/read', body: 'notificationsRead' },
  subscriptions: { method: 'POST', path: '/api/v1/subscriptions', body: 'subscriptions', idempotent: true },

  // data export and account deactivation
  exportSummary: { method: 'GET', path: '/api/v1/patients/{patientID}/export/summary' },
  exportFhir: { method: 'GET', path: '/api/v1/patients/{patientID}/export', download: true, contentType: 'application/fhir+json' },
  deactivate: { method: 'POST', path: '/api/v1/me/deactivate', body: 'deactivate' }
};

Object.keys(E).forEach(function (name) { E[name].name = name; });

module.exports = E;
