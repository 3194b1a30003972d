// Notifications centre. The list route (GET /api/v1/me/notifications) belongs to a future
// branch: absent → a calm note. Subscribing to reminders works today.
const api = require('../../utils/api');
const format = require('../../utils/format');
const subscribe = require('../../utils/subscribe');

const app = getApp();

Page({
  data: { loaded: false, absent: false, items: [], canSubscribe: subscribe.templatesFor(['new_message', 'appointment', 'vitals_reminder']).length > 0 },
  onShow() {
    app.ready().then(() => api.request('notifications'))
      .then((r) => {
        if (r === null) return this.setData({ loaded: true, absent: true });
        const items = (r.items || []).map((n) => ({ id: n.id, title: n.title || n.summary || '通知', time: format.formatRelative(n.created_at || n.at), unread: !n.read_at, page: n.page || '' }));
        return this.setData({ loaded: true, items });
      })
      .catch((e) => { this.setData({ loaded: true }); if (e && e.name === 'ApiError') api.showError(e); });
  },
  open(e) {
    const page = e.currentTarget.dataset.page;
    if (page) wx.navigateTo({ url: '/' + page.replace(/^\//, ''), fail: () => wx.switchTab({ url: '/' + page.replace(/^\//, '') }) });
  },
  subscribeAll() {
    subscribe.ask(api, ['new_message', 'appointment', 'vitals_reminder']).then((r) => {
      if (r.some((x) => x.result === 'accept')) wx.showToast({ title: '已开启提醒', icon: 'success' });
    });
  }
});
