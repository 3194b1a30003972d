const api = require('../../utils/api');
const session = require('../../utils/session');
const validate = require('../../utils/validate');
const requests = require('../../utils/requests');
const queue = require('../../utils/queue');
const format = require('../../utils/format');
const views = require('../../utils/views');
const subscribe = require('../../utils/subscribe');

const app = getApp();
const EMOJI = ['😀', '🙂', '🙂', '😐', '😐', '😟', '😟', '😣', '😣', '😫', '😭'];
const PAIN_WORDS = ['不痛', '轻微', '轻微', '轻度', '中度', '中度', '中度', '重度', '重度', '非常痛', '最痛'];

function emptyForm() {
  return { systolic: '', diastolic: '', pulse: '', value: '', unit: 'mmol/L', wunit: 'kg', context: '', score: null, location: '' };
}

Page({
  data: {
    allowed: true, notice: '', who: '', canVitals: false,
    types: [{ key: 'blood_pressure', label: '血压' }, { key: 'glucose', label: '血糖' }, { key: 'pain', label: '疼痛' }, { key: 'weight', label: '体重' }],
    glucoseContexts: [{ key: 'fasting', label: '空腹' }, { key: 'after_meal', label: '餐后' }, { key: 'bedtime', label: '睡前' }, { key: 'random', label: '随机' }],
    faces: EMOJI.map((e, i) => ({ score: i, emoji: e })),
    type: 'blood_pressure', form: emptyForm(), errors: {}, painWord: '',
    date: '', time: '', today: '', earliest: '', busy: false, queued: 0, guidance: []
  },

  onLoad(q) { session.preferPatient(q && q.patient); }, // opened from a reporting_reminder card

  onShow() {
    this.resetTime();
    app.ready().then(() => {
      const cur = session.current();
      if (!cur) return this.setData({ allowed: false, notice: '还没有关联照护档案。' });
      if (!session.can('report')) return this.setData({ allowed: false, notice: '您没有为这位亲属代为上报的权限。' });
      this.setData({ allowed: true, who: cur.self ? '' : cur.name + '（' + cur.relationship + '）', canVitals: session.can('view_vitals'), queued: queue.pending(cur.patientId).length });
      return null;
    }).catch(() => {});
  },

  resetTime() {
    const now = new Date();
    const day = format.localDay(now);
    // The server accepts readings from the last 30 days.
    this.setData({ date: day, today: day, earliest: format.localDay(now.getTime() - 29 * 86400000), time: format.formatTime(now) });
  },

  onType(e) { this.setData({ type: e.currentTarget.dataset.key, form: emptyForm(), errors: {}, guidance: [] }); },
  onField(e) { this.setData({ ['form.' + e.currentTarget.dataset.f]: e.detail.value, errors: {} }); },
  onContext(e) { this.setData({ 'form.context': e.currentTarget.dataset.key, errors: {} }); },
  onUnit(e) { this.setData({ 'form.unit': e.currentTarget.dataset.unit, errors: {} }); },
  onWUnit(e) { this.setData({ 'form.wunit': e.currentTarget.dataset.wunit, errors: {} }); },
  onFace(e) {
    const s = Number(e.currentTarget.dataset.score);
    this.setData({ 'form.score': s, painWord: PAIN_WORDS[s], errors: {} });
  },
  onDate(e) { this.setData({ date: e.detail.value }); },
  onTime(e) { this.setData({ time: e.detail.value }); },

  measuredAt() {
    // The picked wall-clock time is in the hospital's zone.
    const iso = this.data.date + 'T' + this.data.time + ':00' + '+08:00';
    const t = new Date(iso);
    return format.isoWithZone(t.getTime() > Date.now() ? new Date() : t);
  },

  submit() {
    subscribe.ask(api, ['reading_attention', 'reporting_reminder']); // from the tap: WeChat only allows it here
    const f = this.data.form;
    const type = this.data.type;
    const input = type === 'weight' ? { value: f.value, unit: f.wunit } : f;
    const v = validate.reading(type, input);
    if (!v.ok) { this.setData({ errors: v.errors }); return; }
    const pid = session.selectedPatientId();
    const body = requests.observation(type, v.value, { measuredAt: this.measuredAt() });
    if (!queue.enqueue(pid, body, (api.tokens() || {}).userId)) { // stored first: a weak network never loses it
      wx.showModal({ title: '暂时无法保存', content: '手机上待上传的记录太多了。请连上网络，点「现在重新上传」后再试。', showCancel: false, confirmText: '知道了' });
      return;
    }
    this.setData({ busy: true, guidance: [] });
    queue.flush(api).then((r) => {
      const mine = r.sent.find((s) => s.id === body.id);
      const bad = r.rejected.find((s) => s.id === body.id);
      this.setData({ queued: queue.pending(pid).length });
      if (mine) {
        const g = views.guidanceView(mine.result);
        this.setData({ form: emptyForm(), guidance: g, painWord: '' });
        if (g.some((x) => x.urgent)) {
          wx.showModal({ title: g[0].title, content: g[0].actions.join('\n'), showCancel: false, confirmText: '我知道了' });
        } else wx.showToast({ title: '已上报', icon: 'success' });
      } else if (bad) {
        api.showError(Object.assign(api.ApiError(bad.status, bad.error && bad.error.code, (bad.error && bad.error.message) || '数据有误'), {}), '没有保存');
      } else {
        this.setData({ form: emptyForm(), painWord: '' });
        wx.showModal({ title: '已保存在手机上', content: '网络恢复后会自动上传，不会重复。', showCancel: false, confirmText: '好的' });
      }
    }).catch((e) => api.showError(e)).then(() => this.setData({ busy: false }));
  },

  retry() {
    this.setData({ busy: true });
    queue.flush(api).then((r) => {
      this.setData({ queued: queue.pending(session.selectedPatientId()).length });
      wx.showToast({ title: r.remaining ? '仍有记录未上传' : '已全部上传', icon: 'none' });
    }).catch((e) => api.showError(e)).then(() => this.setData({ busy: false }));
  },

  call(e) { wx.makePhoneCall({ phoneNumber: e.currentTarget.dataset.phone }); },
  goTrends() { wx.navigateTo({ url: '/pages/trends/trends?type=' + this.data.type }); }
});
