// Every HTTP route the mini-program calls, in one place, so the contract test
// (test/contract.test.js) can walk it against ../api/openapi.yaml.
//
//   method, path  – exactly as written in the OpenAPI document
//   auth          – false for the login and refresh calls (no bearer token)
//   body          – name of the request-body builder in utils/requests.js
//   pending       – the route is not in api/openapi.yaml yet: it arrives with another
//                   branch. The client treats `route_not_found` as "feature absent" and
//                   shows nothing. As soon as the route appears in the spec the contract
//                   test checks it like any other.
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
  plan: { method: 'GET', path: '/api/v1/patients/{patientID}/plan' },
  taskDone: { method: 'POST', path: '/api/v1/patients/{patientID}/plans/{planID}/tasks/{taskID}/done' },

  // education
  educationFeed: { method: 'GET', path: '/api/v1/patients/{patientID}/education' },
  educationOpen: { method: 'GET', path: '/api/v1/patients/{patientID}/education/{assignmentID}' },
  educationFinished: { method: 'POST', path: '/api/v1/patients/{patientID}/education/{assignmentID}/finished' },
  article: { method: 'GET', path: '/api/v1/articles/{key}' },

  // messaging (WebSocket: /api/v1/ws, see utils/ws.js)
  thread: { method: 'GET', path: '/api/v1/patients/{patientID}/thread' },
  messages: { method: 'GET', path: '/api/v1/patients/{patientID}/thread/messages' },
  sendMessage: { method: 'POST', path: '/api/v1/patients/{patientID}/thread/messages', body: 'sendText' },
  sendImage: { method: 'POST', path: '/api/v1/patients/{patientID}/thread/messages', upload: true, formData: ['client_msg_id', 'file'] },
  readThread: { method: 'POST', path: '/api/v1/patients/{patientID}/thread/read', body: 'readThread' },
  recallMessage: { method: 'POST', path: '/api/v1/patients/{patientID}/thread/messages/{messageID}/recall' },

  // consents and access log
  patientConsents: { method: 'GET', path: '/api/v1/patients/{patientID}/consents' },
  grantHealthData: { method: 'POST', path: '/api/v1/patients/{patientID}/consents', body: 'grantHealthData' },
  withdrawConsent: { method: 'POST', path: '/api/v1/patients/{patientID}/consents/{consentID}/withdraw', body: 'withdrawConsent' },
  accessLog: { method: 'GET', path: '/api/v1/patients/{patientID}/access-log' },

  // family
  familyMembers: { method: 'GET', path: '/api/v1/patients/{patientID}/family/members' },
  familyScopes: { method: 'PUT', path: '/api/v1/patients/{patientID}/family/members/{linkID}/scopes', body: 'scopes' },
  familyRevoke: { method: 'POST', path: '/api/v1/patients/{patientID}/family/members/{linkID}/revoke' },
  invitations: { method: 'GET', path: '/api/v1/patients/{patientID}/family/invitations' },
  invite: { method: 'POST', path: '/api/v1/patients/{patientID}/family/invitations', body: 'invite' },
  withdrawInvitation: { method: 'POST', path: '/api/v1/patients/{patientID}/family/invitations/{invitationID}/withdraw' },
  previewInvitation: { method: 'GET', path: '/api/v1/family/invitations/{code}' },
  acceptInvitation: { method: 'POST', path: '/api/v1/family/invitations/{code}/accept' },

  // vitals (observations branch, issue 6 / worktree wt4)
  reportObservation: { method: 'POST', path: '/api/v1/patients/{patientID}/observations', body: 'observation', idempotent: true, pending: 'observations' },
  reportBatch: { method: 'POST', path: '/api/v1/patients/{patientID}/observations/batch', body: 'observationBatch', pending: 'observations' },
  observations: { method: 'GET', path: '/api/v1/patients/{patientID}/observations', pending: 'observations' },
  trend: { method: 'GET', path: '/api/v1/patients/{patientID}/trends/{type}', pending: 'observations' },

  // routes announced but not specified yet: shapes are our best guess, absent → graceful
  appointments: { method: 'GET', path: '/api/v1/patients/{patientID}/appointments', pending: 'appointments' },
  appointmentConfirm: { method: 'POST', path: '/api/v1/patients/{patientID}/appointments/{appointmentID}/confirm', pending: 'appointments' },
  appointmentCancel: { method: 'POST', path: '/api/v1/patients/{patientID}/appointments/{appointmentID}/cancel', body: 'appointmentCancel', pending: 'appointments' },
  appointmentReschedule: { method: 'POST', path: '/api/v1/patients/{patientID}/appointments/{appointmentID}/reschedule-requests', body: 'appointmentReschedule', pending: 'appointments' },
  subscriptions: { method: 'POST', path: '/api/v1/subscriptions', body: 'subscriptions', pending: 'subscriptions' },
  questionnaires: { method: 'GET', path: '/api/v1/patients/{patientID}/questionnaires', pending: 'questionnaires' },
  questionnaireSubmit: { method: 'POST', path: '/api/v1/patients/{patientID}/questionnaires/{questionnaireID}/responses', body: 'questionnaireAnswers', pending: 'questionnaires' },
  notifications: { method: 'GET', path: '/api/v1/me/notifications', pending: 'notifications' }
};

Object.keys(E).forEach(function (name) { E[name].name = name; });

module.exports = E;
