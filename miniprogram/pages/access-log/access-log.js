const api = require('../../utils/api');
const format = require('../../utils/format');

const app = getApp();
const KIND = { staff: '医护人员', family: '家人', user: '' };

Page({
  data: { items: [], next: '', loaded: false },
  onLoad() { app.ready().then((me) => { this.pid = me.patient ? me.patient.id : ''; return this.more(); }).catch(() => {}); },
  more() {
    if (!this.pid) { this.setData({ loaded: true }); return Promise.resolve(); }
    return api.request('accessLog', { params: { patientID: this.pid }, query: { cursor: this.data.next, limit: 30 } })
      .then((r) => {
        const items = r.items.map((x) => ({ id: x.id, who: (KIND[x.actor.kind] || '') + ' ' + x.actor.name, summary: x.summary, time: format.formatRelative(x.at) }));
        this.setData({ items: this.data.items.concat(items), next: r.next_cursor || '', loaded: true });
      })
      .catch((e) => { this.setData({ loaded: true }); api.showError(e); });
  }
});
