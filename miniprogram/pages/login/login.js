const config = require('../../config');
const api = require('../../utils/api');
const env = require('../../utils/env');
const session = require('../../utils/session');
const requests = require('../../utils/requests');

Page({
  data: { step: 'privacy', busy: false, devMode: env.devModeActive(), devUsers: config.devUsers || [], devName: '', devPhone: '' },

  onLoad(q) {
    this.redirect = q && q.redirect ? decodeURIComponent(q.redirect) : '';
    if (!env.devModeActive()) api.setDevUser('');
  },

  openPolicy() { wx.navigateTo({ url: '/pages/privacy/privacy' }); },

  onDecline() {
    wx.showModal({ title: '提示', content: '不同意隐私政策将无法使用照护服务。您可以随时回来重新选择。', showCancel: false, confirmText: '知道了' });
  },

  // WeChat's privacy authorisation fires bindagreeprivacyauthorization; older base
  // libraries only fire the tap. Both lead to the same single login.
  onAgree() { this.start(); },
  onAgreeTap() { setTimeout(() => this.start(), 0); },

  onDevLogin(e) { api.setDevUser(e.currentTarget.dataset.name); this.start(true); },
  onDevName(e) { this.setData({ devName: e.detail.value.trim() }); },
  onDevCustom() {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(this.data.devName)) { wx.showToast({ title: '名称只能用字母数字', icon: 'none' }); return; }
    api.setDevUser(this.data.devName);
    this.start(true);
  },

  start(force) {
    if (this.data.busy && !force) return;
    if (this.running) return;
    this.running = true;
    this.setData({ busy: true });
    api.clearTokens();
    session.clear();
    api.login()
      .then(() => api.request('myConsents'))
      .then((c) => {
        if (c && c.privacy_policy && !c.privacy_policy.accepted) {
          return api.request('acceptPrivacy', { data: requests.acceptPrivacy(c.privacy_policy.current_version) });
        }
        return null;
      })
      .then(() => session.load())
      .then((me) => {
        const hasRecord = !!me.patient || (me.relatives || []).length > 0;
        if (!hasRecord && !(me.user && me.user.phone_bound)) this.setData({ step: 'phone' });
        else this.done();
      })
      .catch((err) => api.showError(err, '登录没有成功'))
      .then(() => { this.running = false; this.setData({ busy: false }); });
  },

  onPhone(e) {
    if (!e.detail || !e.detail.code) {
      wx.showToast({ title: '未获得手机号授权', icon: 'none' });
      return;
    }
    this.bind(e.detail.code);
  },
  onDevPhone(e) { this.setData({ devPhone: e.detail.value }); },
  onDevPhoneBind() {
    if (!/^1\d{10}$/.test(this.data.devPhone)) { wx.showToast({ title: '请输入 11 位手机号', icon: 'none' }); return; }
    this.bind('phone-' + this.data.devPhone);
  },

  bind(code) {
    this.setData({ busy: true });
    api.request('bindPhone', { data: requests.bindPhone(code) })
      .then((me) => {
        session.set(me);
        if (!me.patient && !(me.relatives || []).length) {
          wx.showModal({ title: '已绑定', content: '暂未找到您的照护档案。如果您是患者，请联系个案管理师登记；如果您是家属，请使用邀请码。', showCancel: false, confirmText: '知道了', success: () => this.done() });
        } else this.done();
      })
      .catch((err) => api.showError(err, '绑定没有成功'))
      .then(() => this.setData({ busy: false }));
  },

  goAccept() { wx.redirectTo({ url: '/pages/family/accept' }); },
  skipPhone() { this.done(); },

  done() {
    if (this.redirect) wx.redirectTo({ url: this.redirect, fail: () => wx.switchTab({ url: '/pages/home/home' }) });
    else wx.switchTab({ url: '/pages/home/home' });
  }
});
