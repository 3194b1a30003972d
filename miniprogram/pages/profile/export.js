// 导出我的数据 (PIPL right to a copy): the readable summary of what the export holds, then
// the FHIR R4 JSON file itself — downloaded with the bearer token, kept under the app's
// user-data folder and handed to WeChat's file sharing (send to a chat, or save from
// there). Only the patient's own record can be exported.
const api = require('../../utils/api');
const session = require('../../utils/session');
const format = require('../../utils/format');

const app = getApp();

function fileName(now) { return 'carepath-export-' + format.localDay(now).replace(/-/g, '') + '.json'; }

Page({
  data: { loaded: false, own: false, summary: null, preparing: false, file: '', fileName: '', canShare: false },

  onShow() {
    app.ready().then((me) => {
      this.pid = me && me.patient ? me.patient.id : '';
      this.setData({ own: !!this.pid, canShare: typeof wx.shareFileMessage === 'function' });
      if (!this.pid) return this.setData({ loaded: true });
      return api.request('exportSummary', { params: { patientID: this.pid } }).then((s) => {
        return this.setData({
          loaded: true,
          summary: { title: s.title, generated: format.formatDateTime(s.generated_at), sections: s.sections, retention: s.retention_notice }
        });
      });
    }).catch((e) => { this.setData({ loaded: true }); api.showError(e); });
  },

  // prepare downloads the FHIR Bundle and keeps it as carepath-export-YYYYMMDD.json.
  prepare() {
    if (this.data.preparing || !this.pid) return Promise.resolve();
    this.setData({ preparing: true });
    const name = fileName(Date.now());
    return api.download('exportFhir', { params: { patientID: this.pid } }).then((tmp) => {
      const fs = wx.getFileSystemManager();
      const dest = wx.env.USER_DATA_PATH + '/' + name;
      try { fs.unlinkSync(dest); } catch (e) { /* not there yet */ }
      fs.copyFileSync(tmp, dest);
      this.setData({ preparing: false, file: dest, fileName: name });
      wx.showToast({ title: '文件已准备好', icon: 'success' });
    }).catch((e) => {
      this.setData({ preparing: false });
      if (e && e.name === 'ApiError') api.showError(e, '导出失败');
      else wx.showModal({ title: '导出失败', content: '手机存储空间不足或无法写入文件，请清理后再试。', showCancel: false, confirmText: '知道了' });
    });
  },

  // share must run straight from the tap (WeChat requires a user gesture).
  share() {
    if (!this.data.file) return;
    wx.shareFileMessage({
      filePath: this.data.file, fileName: this.data.fileName,
      fail: (err) => {
        if (err && /cancel/.test(err.errMsg || '')) return;
        wx.showModal({ title: '提示', content: '无法发送文件。请在手机上使用此功能，或稍后再试。', showCancel: false, confirmText: '知道了' });
      }
    });
  }
});
