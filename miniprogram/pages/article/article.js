const api = require('../../utils/api');
const session = require('../../utils/session');
const subscribe = require('../../utils/subscribe');

const app = getApp();

// Large inline styles for rich-text (it does not read the page's wxss for inner tags).
function enlarge(html) {
  return String(html || '')
    .replace(/<h([1-3])>/g, '<h$1 style="font-size:44rpx;margin:24rpx 0 12rpx">')
    .replace(/<p>/g, '<p style="margin:16rpx 0">')
    .replace(/<img /g, '<img style="max-width:100%;height:auto" ');
}

Page({
  data: { loaded: false, title: '', html: '', minutes: 0, assignment: '', finished: false },

  onLoad(q) {
    this.q = q || {};
    app.ready().then(() => this.load()).catch(() => {});
  },

  load() {
    const q = this.q;
    const req = q.assignment
      ? api.request('educationOpen', { params: { patientID: session.selectedPatientId(), assignmentID: q.assignment } })
      : api.request('article', { params: { key: q.key } });
    return req.then((d) => {
      const a = d.article || d;
      wx.setNavigationBarTitle({ title: a.title || '健康知识' });
      this.setData({ loaded: true, title: a.title, minutes: a.reading_minutes || 0, html: enlarge(d.html), assignment: q.assignment || '', finished: !!d.finished_at });
    }).catch((e) => api.showError(e));
  },

  finish() {
    subscribe.ask(api, ['education_ready', 'stage_begins']); // on the tap: ask to hear of the next article and the next care-plan stage
    api.request('educationFinished', { params: { patientID: session.selectedPatientId(), assignmentID: this.data.assignment } })
      .then(() => this.setData({ finished: true }))
      .catch((e) => api.showError(e));
  }
});
