// Opened from the server's mini-program code (scene = the code), an ordinary-link QR code
// (?q=<URL ending in the code>, see utils/qr.js), a share card (?code=…), the 扫码 button
// (the family page's QR code) or by typing the code.
const api = require('../../utils/api');
const session = require('../../utils/session');
const format = require('../../utils/format');
const qr = require('../../utils/qr');

Page({
  data: { code: '', preview: null, expires: '', busy: false },

  onLoad(q) {
    q = q || {};
    const code = q.scene ? decodeURIComponent(q.scene) : q.q ? qr.inviteCodeFrom(q.q) : (q.code || '');
    this.setData({ code });
    if (!api.isLoggedIn()) {
      const back = '/pages/family/accept' + (code ? '?code=' + encodeURIComponent(code) : '');
      wx.redirectTo({ url: '/pages/login/login?redirect=' + encodeURIComponent(back) });
      return;
    }
    if (code) this.look();
  },

  scan() {
    wx.scanCode({
      onlyFromCamera: false, scanType: ['qrCode'],
      success: (r) => {
        const code = qr.inviteCodeFrom(r.result);
        if (!code) { wx.showToast({ title: '这不是邀请二维码', icon: 'none' }); return; }
        this.setData({ code });
        this.look();
      }
    });
  },

  onCode(e) { this.setData({ code: e.detail.value.replace(/\s+/g, '').toUpperCase() }); },

  look() {
    const code = this.data.code.replace(/\s+/g, '').toUpperCase();
    if (code.length !== 26) { wx.showToast({ title: '邀请码应为 26 位', icon: 'none' }); return; }
    this.setData({ busy: true });
    api.request('previewInvitation', { params: { code } })
      .then((p) => this.setData({ preview: p, expires: format.formatDateTime(p.expires_at) }))
      .catch((e) => api.showError(e, '无法使用这个邀请码'))
      .then(() => this.setData({ busy: false }));
  },

  accept() {
    const code = this.data.code.replace(/\s+/g, '').toUpperCase();
    this.setData({ busy: true });
    api.request('acceptInvitation', { params: { code } })
      .then((a) => session.load().then(() => {
        session.select(a.patient_id);
        wx.showToast({ title: '已关联', icon: 'success' });
        setTimeout(() => wx.switchTab({ url: '/pages/home/home' }), 800);
      }))
      .catch((e) => {
        if (e.code === 'privacy_policy_required') wx.reLaunch({ url: '/pages/login/login' });
        else api.showError(e, '没有接受成功');
      })
      .then(() => this.setData({ busy: false }));
  }
});
