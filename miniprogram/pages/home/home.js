const api = require('../../utils/api');
const session = require('../../utils/session');
const views = require('../../utils/views');
const queue = require('../../utils/queue');

const app = getApp();

Page({
  data: { people: [], personIndex: 0, current: null, noRecord: false, loaded: false, home: views.homeModel({}), queued: 0,
    canPlan: false, canReport: false, canMessage: false, canVitals: false, canAppointments: false },

  onShow() {
    app.ready().then(() => this.refresh()).catch(() => {});
  },

  onPullDownRefresh() {
    session.load().then(() => this.refresh()).catch((e) => api.showError(e)).then(() => wx.stopPullDownRefresh());
  },

  refresh() {
    const people = session.people().map((p) => Object.assign({}, p, { label: p.self ? p.name + '（本人）' : p.name + '（' + p.relationship + '）' }));
    const current = session.current();
    if (!current) {
      this.setData({ noRecord: true, people: [], current: null, loaded: true });
      return Promise.resolve();
    }
    const idx = people.findIndex((p) => p.patientId === current.patientId);
    const cur = people[idx];
    this.setData({
      noRecord: false, people, personIndex: idx, current: cur,
      canPlan: session.can('view_plan'), canReport: session.can('report'),
      canMessage: session.can('message'), canVitals: session.can('view_vitals'), canAppointments: session.can('view_appointments'),
      queued: queue.pending(cur.patientId).length
    });
    const pid = cur.patientId;
    // One call: the server checks access once and leaves out (null) what this person may not see.
    return api.request('home', { params: { patientID: pid } })
      .catch((e) => (e && e.status === 404 ? null : Promise.reject(e)))
      .then((home) => {
        if (session.selectedPatientId() !== pid) return; // switched meanwhile
        this.setData({ home: views.homeModel(home), loaded: true });
      }).catch((e) => api.showError(e));
  },

  onSwitch(e) {
    const p = this.data.people[Number(e.detail.value)];
    if (!p) return;
    session.select(p.patientId);
    this.setData({ home: views.homeModel({}), loaded: false });
    this.refresh();
  },

  goBind() { wx.reLaunch({ url: '/pages/login/login' }); },
  goAccept() { wx.navigateTo({ url: '/pages/family/accept' }); },
  goPlan() { wx.navigateTo({ url: '/pages/plan/plan' }); },
  goReport() { wx.switchTab({ url: '/pages/report/report' }); },
  goChat() { wx.switchTab({ url: '/pages/chat/chat' }); },
  goEducation() { wx.navigateTo({ url: '/pages/education/education' }); },
  goTrends() { wx.navigateTo({ url: '/pages/trends/trends' }); },
  goAppointments() { wx.navigateTo({ url: '/pages/appointments/appointments' }); },
  goQuestionnaires() { wx.navigateTo({ url: '/pages/questionnaires/questionnaires' }); },
  goNotifications() { wx.navigateTo({ url: '/pages/notifications/notifications' }); },
  goFamily() { wx.navigateTo({ url: '/pages/family/family' }); }
});
