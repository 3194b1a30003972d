const api = require('../../utils/api');
const session = require('../../utils/session');
const views = require('../../utils/views');

const app = getApp();

Page({
  data: { items: [], loaded: false },
  onLoad(q) { session.preferPatient(q && q.patient); }, // opened from a push card or notification
  onShow() { app.ready().then(() => this.load()).catch(() => {}); },
  onPullDownRefresh() { this.load().then(() => wx.stopPullDownRefresh()); },
  load() {
    return api.request('educationFeed', { params: { patientID: session.selectedPatientId() } })
      .then((feed) => this.setData({ items: views.educationItems(feed), loaded: true }))
      .catch((e) => { this.setData({ loaded: true }); api.showError(e); });
  },
  open(e) { wx.navigateTo({ url: '/pages/article/article?assignment=' + encodeURIComponent(e.currentTarget.dataset.id) }); }
});
