// 注销账号: says what happens and what the hospital keeps, asks for the word 注销 to be
// typed, confirms once more, then calls POST /api/v1/me/deactivate.
// On success every local trace of the account goes (tokens, relative selection, its unsent
// readings) and the app returns to the login page.
const api = require('../../utils/api');
const queue = require('../../utils/queue');
const requests = require('../../utils/requests');

const app = getApp();
const WORD = '注销';

Page({
  data: { typed: '', reason: '', ready: false, busy: false, error: '', unsent: 0, isPatient: false },

  onShow() {
    app.ready().then((me) => {
      const t = api.tokens();
      const unsent = queue.pending().filter((q) => t && q.userId === t.userId).length;
      this.setData({ isPatient: !!(me && me.patient), unsent });
    }).catch(() => {});
  },

  onTyped(e) {
    const typed = e.detail.value;
    this.setData({ typed, ready: typed.trim() === WORD, error: '' });
  },
  onReason(e) { this.setData({ reason: e.detail.value }); },

  submit() {
    if (this.data.busy) return;
    if (this.data.typed.trim() !== WORD) { this.setData({ error: '请在输入框中输入“注销”两个字' }); return; }
    wx.showModal({
      title: '最后确认', content: '注销后将立即退出登录，家人关联随之解除，此操作不能撤销。确定注销吗？',
      confirmText: '确定注销', cancelText: '再想想', confirmColor: '#c92a2a',
      success: (r) => { if (r.confirm) this.send(); }
    });
  },

  send() {
    this.setData({ busy: true, error: '' });
    return api.request('deactivate', { data: requests.deactivate(this.data.typed.trim(), this.data.reason.trim()) })
      .then((res) => {
        this.setData({ busy: false });
        wx.showModal({
          title: '账号已注销', content: res.records_retained_notice, showCancel: false, confirmText: '知道了',
          complete: () => app.endSession()
        });
      })
      .catch((e) => {
        this.setData({ busy: false });
        if (e && e.code === 'confirm_required') { this.setData({ error: e.message }); return; }
        api.showError(e, '注销失败');
      });
  }
});
