// Appointments: list, confirm, cancel, ask to reschedule. The routes arrive with the
// appointments branch (utils/endpoints.js marks them pending); until then the page says so.
const api = require('../../utils/api');
const session = require('../../utils/session');
const format = require('../../utils/format');
const requests = require('../../utils/requests');
const subscribe = require('../../utils/subscribe');

const app = getApp();
const STATUS = { scheduled: ['待确认', 'due'], confirmed: ['已确认', 'done'], cancelled: ['已取消', 'overdue'], reschedule_requested: ['已申请改期', ''], completed: ['已就诊', 'done'] };

Page({
  data: { loaded: false, absent: false, items: [], canAct: false },

  onShow() { app.ready().then(() => this.load()).catch(() => {}); },
  onPullDownRefresh() { this.load().then(() => wx.stopPullDownRefresh()); },

  load() {
    this.setData({ canAct: session.can('view_appointments') });
    if (!session.can('view_appointments')) { this.setData({ loaded: true, items: [] }); return Promise.resolve(); }
    return api.request('appointments', { params: { patientID: session.selectedPatientId() } })
      .then((r) => {
        if (r === null) return this.setData({ loaded: true, absent: true });
        const items = (r.items || []).map((a) => {
          const st = STATUS[a.status] || [a.status || '', ''];
          return {
            id: a.id, title: a.title || a.department || '复诊预约', when: format.formatDateTime(a.starts_at || a.scheduled_at || a.at),
            place: a.location || '', statusLabel: st[0], statusClass: st[1], actionable: a.status === 'scheduled' || a.status === 'confirmed'
          };
        });
        return this.setData({ loaded: true, absent: false, items });
      })
      .catch((e) => { this.setData({ loaded: true }); api.showError(e); });
  },

  params(e) { return { patientID: session.selectedPatientId(), appointmentID: e.currentTarget.dataset.id }; },

  confirm(e) {
    subscribe.ask(api, ['appointment']); // a reminder before the visit, asked on this tap
    api.request('appointmentConfirm', { params: this.params(e) })
      .then(() => { wx.showToast({ title: '已确认', icon: 'success' }); return this.load(); })
      .catch((err) => api.showError(err));
  },

  cancel(e) {
    const params = this.params(e);
    wx.showModal({
      title: '取消预约', content: '确定取消这次预约吗？个案管理师会收到通知。', confirmText: '取消预约', cancelText: '不取消', confirmColor: '#c92a2a',
      success: (r) => {
        if (!r.confirm) return;
        api.request('appointmentCancel', { params, data: requests.appointmentCancel('') })
          .then(() => this.load()).catch((err) => api.showError(err));
      }
    });
  },

  reschedule(e) {
    const params = this.params(e);
    wx.showModal({
      title: '申请改期', editable: true, placeholderText: '请写下方便的时间或原因',
      success: (r) => {
        if (!r.confirm) return;
        api.request('appointmentReschedule', { params, data: requests.appointmentReschedule(r.content || '', []) })
          .then(() => { wx.showToast({ title: '已提交申请', icon: 'success' }); return this.load(); })
          .catch((err) => api.showError(err));
      }
    });
  }
});
