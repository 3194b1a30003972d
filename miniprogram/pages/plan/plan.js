const api = require('../../utils/api');
const session = require('../../utils/session');
const views = require('../../utils/views');

const app = getApp();

Page({
  data: { loaded: false, timeline: { stages: [] }, canReport: false },
  onLoad(q) { session.preferPatient(q && q.patient); }, // opened from a push card or notification

  onShow() { app.ready().then(() => this.load()).catch(() => {}); },
  onPullDownRefresh() { this.load().then(() => wx.stopPullDownRefresh()); },

  load() {
    const pid = session.selectedPatientId();
    this.setData({ canReport: session.can('report') });
    return api.request('plan', { params: { patientID: pid } })
      .then((plan) => { this.plan = plan; this.setData({ loaded: true, timeline: views.timelineModel(plan) }); })
      .catch((e) => {
        this.setData({ loaded: true, timeline: { stages: [] } });
        if (e.status !== 404) api.showError(e);
      });
  },

  markDone(e) {
    const taskID = e.currentTarget.dataset.id;
    wx.showModal({
      title: '确认', content: '确认这项已经完成了吗？', confirmText: '已完成', cancelText: '还没有',
      success: (r) => {
        if (!r.confirm) return;
        api.request('taskDone', { params: { patientID: session.selectedPatientId(), planID: this.plan.id, taskID } })
          .then(() => { wx.showToast({ title: '已记录', icon: 'success' }); return this.load(); })
          .catch((err) => api.showError(err));
      }
    });
  }
});
