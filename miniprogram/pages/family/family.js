const api = require('../../utils/api');
const session = require('../../utils/session');
const views = require('../../utils/views');
const format = require('../../utils/format');
const requests = require('../../utils/requests');
const qr = require('../../utils/qr');

const app = getApp();
const SCOPE_KEYS = ['view_plan', 'view_vitals', 'view_appointments', 'message', 'report', 'receive_push'];
const DEFAULT_SCOPES = ['view_plan', 'view_vitals', 'view_appointments', 'message', 'receive_push'];

function groups(code) { return String(code).replace(/(.{4})/g, '$1 ').trim(); }

Page({
  data: {
    relatives: [], currentId: '', ownId: '', healthConsent: true, healthVersion: '', busy: false,
    relationships: ['配偶', '儿子', '女儿', '父亲', '母亲', '兄弟姐妹', '其他亲属'], relationship: '',
    scopeOptions: SCOPE_KEYS.map((k) => ({ key: k, label: format.scopeLabel(k), checked: DEFAULT_SCOPES.indexOf(k) >= 0 })),
    inviteScopes: DEFAULT_SCOPES.slice(), issued: null, members: [], invitations: [],
    scopeKeys: SCOPE_KEYS, scopeLabels: format.SCOPES
  },

  onShow() { app.ready().then((me) => this.load(me)).catch(() => {}); },

  load(me) {
    const relatives = session.people(me).filter((p) => !p.self).map((p) => Object.assign(p, { scopeLabels: (p.scopes || []).map(format.scopeLabel).join('、') }));
    const ownId = me.patient ? me.patient.id : '';
    this.setData({ relatives, ownId, currentId: session.selectedPatientId() });
    if (!ownId) return Promise.resolve();
    return Promise.all([
      api.request('patientConsents', { params: { patientID: ownId } }),
      api.request('familyMembers', { params: { patientID: ownId } }),
      api.request('invitations', { params: { patientID: ownId } })
    ]).then(([consents, members, invitations]) => {
      const fm = views.familyModel(members, invitations);
      fm.members.forEach((m) => { m.scopeMap = {}; m.scopes.forEach((s) => { m.scopeMap[s] = true; }); });
      this.memberScopes = {};
      fm.members.forEach((m) => { this.memberScopes[m.id] = m.scopes.slice(); });
      this.setData({ healthConsent: consents.health_data.active, healthVersion: consents.health_data.current_version, members: fm.members, invitations: fm.invitations });
    }).catch((e) => api.showError(e));
  },

  switchTo(e) {
    session.select(e.currentTarget.dataset.id);
    wx.switchTab({ url: '/pages/home/home' });
  },
  goAccept() { wx.navigateTo({ url: '/pages/family/accept' }); },
  goAccessLog() { wx.navigateTo({ url: '/pages/access-log/access-log' }); },

  grantHealth() {
    this.setData({ busy: true });
    api.request('grantHealthData', { params: { patientID: this.data.ownId }, data: requests.grantHealthData(this.data.healthVersion) })
      .then(() => this.setData({ healthConsent: true }))
      .catch((e) => api.showError(e))
      .then(() => this.setData({ busy: false }));
  },

  onRel(e) { this.setData({ relationship: e.currentTarget.dataset.v }); },
  onRelInput(e) { this.setData({ relationship: e.detail.value.trim() }); },
  onInviteScopes(e) { this.setData({ inviteScopes: e.detail.value }); },

  invite() {
    const rel = this.data.relationship;
    if (!rel) { wx.showToast({ title: '请选择关系', icon: 'none' }); return; }
    if (!this.data.inviteScopes.length) { wx.showToast({ title: '请至少选择一项', icon: 'none' }); return; }
    this.setData({ busy: true });
    api.request('invite', { params: { patientID: this.data.ownId }, data: requests.invite(rel, this.data.inviteScopes) })
      .then((r) => {
        this.issued = r;
        this.setData({ issued: { codeGroups: groups(r.code), scene: r.scene, page: r.page, expires: format.formatDateTime(r.invitation.expires_at) } }, () => this.drawQr(r.code));
        return this.load(session.get());
      })
      .catch((e) => api.showError(e, '邀请没有成功'))
      .then(() => this.setData({ busy: false }));
  },

  // drawQr paints the invitation QR code into the canvas (canvas 2D, device pixels).
  drawQr(code) {
    if (!wx.createSelectorQuery) return;
    wx.createSelectorQuery().in(this).select('#inviteQr').fields({ node: true, size: true }).exec((res) => {
      const c = res && res[0];
      if (!c || !c.node) return;
      const dpr = (wx.getWindowInfo ? wx.getWindowInfo() : wx.getSystemInfoSync()).pixelRatio || 2;
      const px = Math.floor(c.width * dpr);
      c.node.width = px;
      c.node.height = px;
      qr.draw(c.node.getContext('2d'), qr.inviteText(code), px);
    });
  },

  copyCode() { if (this.issued) wx.setClipboardData({ data: this.issued.code }); },

  onShareAppMessage() {
    if (!this.issued) return { title: '全程照护', path: '/pages/home/home' };
    return { title: '邀请您一起关注我的照护计划', path: '/' + this.issued.path.replace(/^\//, '') };
  },

  onMemberScopes(e) { this.memberScopes[e.currentTarget.dataset.id] = e.detail.value; },

  saveScopes(e) {
    const id = e.currentTarget.dataset.id;
    const scopes = this.memberScopes[id] || [];
    if (!scopes.length) { wx.showToast({ title: '至少保留一项，或解除关联', icon: 'none' }); return; }
    api.request('familyScopes', { params: { patientID: this.data.ownId, linkID: id }, data: requests.scopes(scopes) })
      .then(() => wx.showToast({ title: '已保存', icon: 'success' }))
      .catch((err) => api.showError(err));
  },

  revoke(e) {
    const { id, rel } = e.currentTarget.dataset;
    wx.showModal({
      title: '解除关联', content: '解除后，' + rel + '将立即不能再查看您的信息。确定吗？', confirmText: '解除', confirmColor: '#c92a2a',
      success: (r) => {
        if (!r.confirm) return;
        api.request('familyRevoke', { params: { patientID: this.data.ownId, linkID: id } })
          .then(() => this.load(session.get()))
          .catch((err) => api.showError(err));
      }
    });
  },

  withdraw(e) {
    api.request('withdrawInvitation', { params: { patientID: this.data.ownId, invitationID: e.currentTarget.dataset.id } })
      .then(() => this.load(session.get()))
      .catch((err) => api.showError(err));
  }
});
