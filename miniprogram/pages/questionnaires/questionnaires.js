// Placeholder wired to the questionnaire routes of a future branch: GET
// /api/v1/patients/{id}/questionnaires (absent today → "coming soon"). Answering will POST
// …/questionnaires/{id}/responses (utils/endpoints.js: questionnaireSubmit).
const api = require('../../utils/api');
const session = require('../../utils/session');
const format = require('../../utils/format');

const app = getApp();

Page({
  data: { loaded: false, absent: false, items: [] },
  onShow() {
    app.ready().then(() => api.request('questionnaires', { params: { patientID: session.selectedPatientId() } }))
      .then((r) => {
        if (r === null) return this.setData({ loaded: true, absent: true });
        const items = (r.items || []).map((q) => ({ id: q.id, title: q.title || q.name || '随访问卷', due: q.due_on ? format.formatShortDate(q.due_on) : '', done: q.status === 'done' || !!q.completed_at }));
        return this.setData({ loaded: true, absent: false, items });
      })
      .catch((e) => { this.setData({ loaded: true }); if (e && e.name === 'ApiError') api.showError(e); });
  }
});
