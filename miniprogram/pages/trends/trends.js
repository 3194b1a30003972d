const api = require('../../utils/api');
const session = require('../../utils/session');
const chart = require('../../utils/chart');
const views = require('../../utils/views');

const app = getApp();
const UNITS = { 'mm[Hg]': 'mmHg', 'mmol/L': 'mmol/L', '{score}': '分', kg: '公斤' };

Page({
  data: {
    allowed: true, notice: '', empty: false, legend: [], latest: '',
    types: [{ key: 'blood_pressure', label: '血压' }, { key: 'glucose', label: '血糖' }, { key: 'pain', label: '疼痛' }, { key: 'weight', label: '体重' }],
    ranges: [{ key: '7d', label: '7天' }, { key: '30d', label: '30天' }, { key: '90d', label: '90天' }],
    type: 'blood_pressure', range: '30d'
  },

  onLoad(q) {
    session.preferPatient(q && q.patient); // opened from a push card or notification
    if (q && q.type) this.setData({ type: q.type });
  },

  onReady() {
    app.ready().then(() => {
      if (!session.can('view_vitals')) { this.setData({ allowed: false, notice: '您没有查看这位亲属体征数据的权限。' }); return; }
      this.load();
    }).catch(() => {});
  },

  onType(e) { this.setData({ type: e.currentTarget.dataset.key }); this.load(); },
  onRange(e) { this.setData({ range: e.currentTarget.dataset.key }); this.load(); },

  load() {
    const { type, range } = this.data;
    api.request('trend', { params: { patientID: session.selectedPatientId(), type }, query: { range } })
      .then((t) => {
        this.trend = t;
        this.setData({
          latest: views.latestReading(t),
          legend: (t.series || []).map((s, i) => ({ name: s.name, label: s.label, unit: UNITS[s.unit] || s.unit, color: chart.COLORS[i % chart.COLORS.length] }))
        });
        this.paint();
      })
      .catch((e) => api.showError(e));
  },

  paint() {
    wx.createSelectorQuery().in(this).select('#chart').fields({ node: true, size: true }).exec((res) => {
      const r = res && res[0];
      if (!r || !r.node) return;
      const canvas = r.node;
      const dpr = (wx.getWindowInfo ? wx.getWindowInfo() : wx.getSystemInfoSync()).pixelRatio || 2;
      canvas.width = r.width * dpr;
      canvas.height = r.height * dpr;
      const ctx = canvas.getContext('2d');
      ctx.scale(dpr, dpr);
      const model = chart.computeModel(this.trend, { width: r.width, height: r.height });
      this.setData({ empty: model.empty });
      chart.draw(ctx, model);
    });
  }
});
