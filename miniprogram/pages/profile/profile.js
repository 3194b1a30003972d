const api = require('../../utils/api');
const env = require('../../utils/env');
const session = require('../../utils/session');
const requests = require('../../utils/requests');

const app = getApp();

Page({
  data: { name: '', phone: '', viewing: '', isPatient: false, devMode: env.devModeActive(), devUser: '' },

  onShow() {
    app.ready().then((me) => {
      const cur = session.current();
      this.setData({
        name: me.patient ? me.patient.name : '',
        phone: me.user && me.user.phone_masked ? me.user.phone_masked : '',
        viewing: cur && !cur.self ? cur.name + '（' + cur.relationship + '）' : '',
        isPatient: !!me.patient,
        devUser: api.devUser()
      });
    }).catch(() => {});
  },

  go(e) { wx.navigateTo({ url: e.currentTarget.dataset.url }); },

  exportData() { wx.navigateTo({ url: '/pages/profile/export' }); },
  deactivate() { wx.navigateTo({ url: '/pages/profile/deactivate' }); },

  withdrawHealth() {
    const me = session.get();
    if (!me || !me.patient) return;
    const pid = me.patient.id;
    api.request('patientConsents', { params: { patientID: pid } }).then((c) => {
      const active = (c.items || []).find((x) => x.kind === 'health_data' && x.active);
      if (!active) { wx.showToast({ title: '当前没有生效的同意', icon: 'none' }); return; }
      wx.showModal({
        title: '撤回同意', content: '撤回后，所有家人的关联会被解除，待接受的邀请也会撤回。确定吗？', confirmText: '撤回', confirmColor: '#c92a2a',
        success: (r) => {
          if (!r.confirm) return;
          api.request('withdrawConsent', { params: { patientID: pid, consentID: active.id }, data: requests.withdrawConsent() })
            .then(() => wx.showToast({ title: '已撤回', icon: 'success' }))
            .catch((e) => api.showError(e));
        }
      });
    }).catch((e) => api.showError(e));
  },

  logout() {
    wx.showModal({ title: '退出登录', content: '确定退出吗？', success: (r) => { if (r.confirm) app.logout(); } });
  }
});
