// Notifications centre: every push the server made for the selected record (whether or
// not the WeChat card was delivered), newest first, with unread marks. Opening one marks
// it read and goes to its page; "全部已读" marks them all. The reminder switch asks for the
// subscription templates on the tap and reports the answers to the server.
const api = require('../../utils/api');
const session = require('../../utils/session');
const format = require('../../utils/format');
const requests = require('../../utils/requests');
const subscribe = require('../../utils/subscribe');

const app = getApp();
const KINDS = ['cm_message', 'appointment_reminder', 'questionnaire_due'];
const TABS = ['pages/home/home', 'pages/chat/chat', 'pages/report/report', 'pages/profile/profile'];

function itemView(n) {
  return { id: n.id, kind: n.kind, title: n.title, time: format.formatRelative(n.created_at), unread: !n.read_at, page: n.page };
}

Page({
  data: { loaded: false, items: [], unread: 0, next: '', canSubscribe: subscribe.templatesFor(KINDS).length > 0 },

  onShow() { app.ready().then(() => this.load(false)).catch(() => {}); },
  onPullDownRefresh() { this.load(false).then(() => wx.stopPullDownRefresh()); },
  onReachBottom() { if (this.data.next) this.load(true); },

  load(more) {
    const pid = session.selectedPatientId();
    if (!pid) { this.setData({ loaded: true }); return Promise.resolve(); }
    return api.request('notifications', { params: { patientID: pid }, query: { cursor: more ? this.data.next : '', limit: 30 } })
      .then((r) => {
        const items = r.notifications.map(itemView);
        this.setData({ loaded: true, items: more ? this.data.items.concat(items) : items, unread: r.unread, next: r.next_cursor || '' });
      })
      .catch((e) => { this.setData({ loaded: true }); api.showError(e); });
  },

  markRead(ids) {
    return api.request('notificationsRead', { params: { patientID: session.selectedPatientId() }, data: requests.notificationsRead(ids) })
      .then(() => {
        const all = !ids.length;
        const items = this.data.items.map((n) => (all || ids.indexOf(n.id) >= 0 ? Object.assign({}, n, { unread: false }) : n));
        this.setData({ items, unread: all ? 0 : Math.max(0, this.data.unread - ids.length) });
      })
      .catch((e) => api.showError(e));
  },

  readAll() { return this.markRead([]); },

  open(e) {
    const n = this.data.items.find((x) => x.id === e.currentTarget.dataset.id);
    if (!n) return;
    if (n.unread) this.markRead([n.id]);
    const url = '/' + String(n.page || '').replace(/^\//, '');
    if (url === '/') return;
    if (TABS.indexOf(url.slice(1).split('?')[0]) >= 0) {
      const q = url.split('?')[1] || '';
      const m = /(?:^|&)patient=([^&]+)/.exec(q);
      if (m) session.preferPatient(decodeURIComponent(m[1]));
      wx.switchTab({ url: url.split('?')[0] }); // tab pages take no query
    } else {
      wx.navigateTo({ url });
    }
  },

  subscribeAll() {
    subscribe.ask(api, KINDS).then((r) => {
      if (r.some((x) => x.result === 'accept')) wx.showToast({ title: '已开启提醒', icon: 'success' });
    });
  }
});
