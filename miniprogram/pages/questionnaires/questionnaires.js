// Follow-up questionnaires: pending ones first (to answer), then answered ones with their
// result. Opened from the home page, the notification centre and the questionnaire_due
// push (?patient=<id>).
const api = require('../../utils/api');
const session = require('../../utils/session');
const format = require('../../utils/format');

const app = getApp();

function itemView(a) {
  return {
    id: a.id,
    title: a.questionnaire.name,
    count: a.questionnaire.items.length,
    pending: a.status === 'pending',
    sent: format.formatShortDate(a.assigned_at),
    answered: a.answered_at ? format.formatShortDate(a.answered_at) : '',
    result: a.band_name || ''
  };
}

Page({
  data: { loaded: false, allowed: true, pending: [], done: [], canAnswer: false },

  onLoad(q) { session.preferPatient(q && q.patient); },
  onShow() { app.ready().then(() => this.load()).catch(() => {}); },
  onPullDownRefresh() { this.load().then(() => wx.stopPullDownRefresh()); },

  load() {
    const allowed = session.can('view_vitals');
    this.setData({ allowed, canAnswer: session.can('report') });
    if (!allowed) { this.setData({ loaded: true }); return Promise.resolve(); }
    return api.request('questionnaires', { params: { patientID: session.selectedPatientId() }, query: { limit: 50 } })
      .then((r) => {
        const items = (r.items || []).map(itemView);
        this.setData({ loaded: true, pending: items.filter((i) => i.pending), done: items.filter((i) => !i.pending) });
      })
      .catch((e) => { this.setData({ loaded: true }); api.showError(e); });
  },

  open(e) {
    wx.navigateTo({ url: '/pages/questionnaires/answer?id=' + encodeURIComponent(e.currentTarget.dataset.id) });
  }
});
