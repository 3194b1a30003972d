// Appointments: the upcoming list, confirm, cancel (a reason is required), and a
// reschedule request with 1–3 preferred times and a note. Opened from the home card, the
// notification centre and the appointment_reminder push (?patient=<id>).
// Each action carries an Idempotency-Key (utils/idem.js): tapping again after a network
// failure repeats the same action and the server acts once; a new action gets a new key.
const api = require('../../utils/api');
const session = require('../../utils/session');
const format = require('../../utils/format');
const requests = require('../../utils/requests');
const subscribe = require('../../utils/subscribe');
const idem = require('../../utils/idem');

const app = getApp();
const STATUS = {
  scheduled: ['待确认', 'due'], confirmed: ['已确认', 'done'], reschedule_requested: ['已申请改期', ''],
  cancelled: ['已取消', 'overdue'], completed: ['已就诊', 'done'], no_show: ['未到诊', 'overdue'],
  // A pathway's suggestion the case manager has not accepted yet: the server keeps it from
  // patients and family; should one ever arrive it is shown as not yet arranged, with no actions.
  proposed: ['待个案管理师安排', '']
};
const MAX_TIMES = 3;

function itemView(a) {
  const st = STATUS[a.status] || [a.status, ''];
  return {
    id: a.id, title: a.title || a.kind_name, kindName: a.kind_name,
    when: format.formatShortDate(a.starts_at) + ' ' + format.formatTime(a.starts_at),
    date: format.formatDate(a.starts_at),
    place: [a.department, a.location].filter(Boolean).join(' · '),
    clinician: a.clinician || '', directions: a.directions || '', preparation: a.preparation || '',
    statusLabel: st[0], statusClass: st[1],
    canConfirm: a.status === 'scheduled',
    actionable: a.status === 'scheduled' || a.status === 'confirmed',
    requested: a.reschedule ? a.reschedule.preferred_times.map(function (t) { return format.formatShortDate(t) + ' ' + format.formatTime(t); }).join('、') : ''
  };
}

function emptySlot() { return { day: '', time: '' }; }

Page({
  data: {
    loaded: false, items: [], canAct: false,
    reschedule: null, // { id, title, slots: [{day, time}], note, error }
    minDay: '', maxDay: ''
  },

  onLoad(q) { session.preferPatient(q && q.patient); },
  onShow() { app.ready().then(() => this.load()).catch(() => {}); },
  onPullDownRefresh() { this.load().then(() => wx.stopPullDownRefresh()); },

  load() {
    const canView = session.can('view_appointments');
    this.setData({ canAct: canView, minDay: format.localDay(), maxDay: format.localDay(Date.now() + 365 * 86400000) });
    if (!canView) { this.setData({ loaded: true, items: [] }); return Promise.resolve(); }
    return api.request('appointments', { params: { patientID: session.selectedPatientId() }, query: { when: 'upcoming' } })
      .then((r) => this.setData({ loaded: true, items: (r.items || []).map(itemView) }))
      .catch((e) => { this.setData({ loaded: true }); api.showError(e); });
  },

  params(id) { return { patientID: session.selectedPatientId(), appointmentID: id }; },

  confirm(e) {
    subscribe.ask(api, ['appointment_reminder']); // a reminder before the visit, asked on this tap
    const id = e.currentTarget.dataset.id;
    return idem.send(api, 'appointmentConfirm', id, { params: this.params(id) })
      .then(() => { wx.showToast({ title: '已确认', icon: 'success' }); return this.load(); })
      .catch((err) => api.showError(err));
  },

  cancel(e) {
    const id = e.currentTarget.dataset.id;
    const params = this.params(id);
    wx.showModal({
      title: '取消预约', editable: true, placeholderText: '请写下取消的原因（必填）',
      confirmText: '取消预约', cancelText: '不取消', confirmColor: '#c92a2a',
      success: (r) => {
        if (!r.confirm) return;
        const reason = (r.content || '').trim();
        if (!reason) {
          wx.showModal({ title: '提示', content: '请写下取消的原因，方便个案管理师为您重新安排。', showCancel: false, confirmText: '知道了' });
          return;
        }
        idem.send(api, 'appointmentCancel', id, { params, data: requests.appointmentCancel(reason) })
          .then(() => { wx.showToast({ title: '已取消', icon: 'success' }); return this.load(); })
          .catch((err) => api.showError(err));
      }
    });
  },

  // --- reschedule request -------------------------------------------------------------
  openReschedule(e) {
    const it = this.data.items.find((x) => x.id === e.currentTarget.dataset.id);
    if (!it) return;
    this.setData({ reschedule: { id: it.id, title: it.title + '（' + it.when + '）', slots: [emptySlot()], note: '', error: '' } });
  },
  closeReschedule() { this.setData({ reschedule: null }); },
  onSlotDay(e) { this.setData({ ['reschedule.slots[' + e.currentTarget.dataset.i + '].day']: e.detail.value, 'reschedule.error': '' }); },
  onSlotTime(e) { this.setData({ ['reschedule.slots[' + e.currentTarget.dataset.i + '].time']: e.detail.value, 'reschedule.error': '' }); },
  addSlot() {
    const slots = this.data.reschedule.slots;
    if (slots.length < MAX_TIMES) this.setData({ 'reschedule.slots': slots.concat([emptySlot()]) });
  },
  removeSlot(e) {
    const slots = this.data.reschedule.slots.slice();
    slots.splice(e.currentTarget.dataset.i, 1);
    this.setData({ 'reschedule.slots': slots.length ? slots : [emptySlot()] });
  },
  onNote(e) { this.setData({ 'reschedule.note': e.detail.value }); },

  submitReschedule() {
    const r = this.data.reschedule;
    const times = [];
    let incomplete = false;
    r.slots.forEach((s) => {
      if (!s.day && !s.time) return;
      const iso = format.localToIso(s.day, s.time);
      if (!iso) incomplete = true; else times.push(iso);
    });
    if (incomplete) return this.setData({ 'reschedule.error': '每个期望时间都要选好日期和时间' });
    if (!times.length) return this.setData({ 'reschedule.error': '请至少选择一个方便的时间' });
    if (times.some((t) => Date.parse(t) <= Date.now())) return this.setData({ 'reschedule.error': '期望时间要晚于现在' });
    return idem.send(api, 'appointmentReschedule', r.id, { params: this.params(r.id), data: requests.appointmentReschedule(times, r.note.trim()) })
      .then(() => { this.setData({ reschedule: null }); wx.showToast({ title: '已提交申请', icon: 'success' }); return this.load(); })
      .catch((err) => api.showError(err));
  }
});
