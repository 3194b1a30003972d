const api = require('../../utils/api');
const session = require('../../utils/session');
const views = require('../../utils/views');
const ids = require('../../utils/ids');
const requests = require('../../utils/requests');
const subscribe = require('../../utils/subscribe');

const app = getApp();
const PAGE = 30;
const MAX_KEPT = 300; // keeps setData far below 1 MB

Page({
  data: { allowed: true, notice: '', items: [], draft: '', loaded: false, hasOlder: false, scrollTo: '', connection: 'connecting' },
  onLoad(q) { session.preferPatient(q && q.patient); }, // opened from a push card or notification

  onShow() {
    app.ready().then((me) => this.open(me)).catch(() => {});
  },

  onHide() { this.detach(); },
  onUnload() { this.detach(); },

  detach() {
    if (this.off) { this.off(); this.off = null; }
  },

  open(me) {
    const pid = session.selectedPatientId();
    this.myUserId = me.user ? me.user.id : '';
    if (!pid || !session.can('message')) {
      this.setData({ allowed: false });
      return;
    }
    if (this.pid !== pid) {
      if (this.pid && app.globalData.realtime) app.globalData.realtime.unsubscribe(this.pid);
      this.pid = pid;
      this.raw = [];
      this.thread = null;
      this.setData({ items: [], loaded: false, allowed: true });
    }
    this.detach();
    this.off = app.onRealtime((evt) => this.onEvent(evt));
    Promise.all([
      api.request('thread', { params: { patientID: pid } }),
      this.raw.length
        ? api.request('messages', { params: { patientID: pid }, query: { after: this.lastSeq(), limit: 200 } })
        : api.request('messages', { params: { patientID: pid }, query: { limit: PAGE } })
    ]).then(([thread, page]) => {
      const first = !this.raw.length;
      this.thread = thread;
      this.raw = views.mergeMessages(this.raw, page.items);
      // the first page is newest-first: has_more means older messages exist
      this.setData({ hasOlder: first ? !!page.has_more : this.data.hasOlder, loaded: true });
      this.render(true);
      const rt = app.realtime();
      rt.subscribe(pid, this.lastSeq());
      this.setData({ connection: rt.open ? 'connected' : 'connecting' });
      this.markRead();
    }).catch((e) => {
      if (e.status === 404 || e.status === 403) this.setData({ allowed: false, notice: '暂时无法打开会话。' });
      else api.showError(e);
    });
  },

  lastSeq() {
    let s = 0;
    (this.raw || []).forEach((m) => { if (typeof m.seq === 'number' && m.seq > s) s = m.seq; });
    return s;
  },

  onEvent(evt) {
    if (evt.type === 'connected') this.setData({ connection: 'connected' });
    else if (evt.type === 'disconnected') this.setData({ connection: 'offline' });
    else if (evt.type === 'message' && evt.patient_id === this.pid) {
      this.raw = views.mergeMessages(this.raw, [evt.message]);
      this.render(true);
      this.markRead();
    } else if (evt.type === 'read' && evt.patient_id === this.pid && evt.read && this.thread) {
      const r = evt.read;
      const p = (this.thread.participants || []).find((x) => x.kind === r.reader.kind && x.id === r.reader.id);
      if (p) p.last_read_seq = Math.max(p.last_read_seq, r.last_read_seq);
      else this.thread.participants.push({ kind: r.reader.kind, id: r.reader.id, role: r.reader.role, last_read_seq: r.last_read_seq });
      this.render(false);
    } else if (evt.type === 'unsubscribed' && evt.patient_id === this.pid && evt.code === 'access_revoked') {
      this.setData({ allowed: false, notice: '您查看这位亲属会话的权限已被撤销。' });
      session.load().catch(() => {});
    }
  },

  render(scroll) {
    if (this.raw.length > MAX_KEPT) this.raw = this.raw.slice(this.raw.length - MAX_KEPT);
    const server = this.raw.filter((m) => typeof m.seq === 'number');
    const local = this.raw.filter((m) => typeof m.seq !== 'number');
    const items = views.messageItems(server, this.myUserId).map((m) => Object.assign(m, { key: 's' + m.seq }));
    // "已读" under my latest visible message once a case manager has read up to it
    // (recall entries are mine too but are not shown as bubbles).
    const mine = items.filter((x) => x.mine && x.kind !== 'recalled' && x.kind !== 'system');
    const lastMine = mine[mine.length - 1];
    if (lastMine && views.readByStaff(this.thread, lastMine.seq)) lastMine.readMark = true;
    local.forEach((m) => items.push({ key: 'l' + m.client_msg_id, clientMsgId: m.client_msg_id, mine: true, who: '我', kind: m.kind, text: m.text, imageUrl: m.localPath || '', time: '', pending: !m.failed, failed: !!m.failed }));
    const data = { items };
    if (scroll) data.scrollTo = 'bottom';
    this.setData(data);
  },

  markRead() {
    const seq = this.lastSeq();
    if (!seq || (this.thread && this.thread.last_read_seq >= seq)) return;
    api.request('readThread', { params: { patientID: this.pid }, data: requests.readThread(seq) })
      .then((r) => { if (this.thread) { this.thread.last_read_seq = r.last_read_seq; this.thread.unread_count = r.unread_count; } })
      .catch(() => {});
  },

  loadOlder() {
    if (!this.data.hasOlder || this.loadingOlder) return;
    const first = this.raw.find((m) => typeof m.seq === 'number');
    if (!first) return;
    this.loadingOlder = true;
    api.request('messages', { params: { patientID: this.pid }, query: { before: first.seq, limit: PAGE } })
      .then((page) => {
        this.raw = views.mergeMessages(this.raw, page.items);
        this.setData({ hasOlder: page.has_more });
        this.render(false);
      })
      .catch((e) => api.showError(e))
      .then(() => { this.loadingOlder = false; });
  },

  onInput(e) { this.setData({ draft: e.detail.value }); },

  send() {
    const text = (this.data.draft || '').trim();
    if (!text) return;
    if (!this.askedSubscribe) { this.askedSubscribe = true; subscribe.ask(api, ['cm_message']); } // on the tap, as WeChat requires
    const local = { client_msg_id: ids.newId('m'), kind: 'text', text };
    this.raw.push(local);
    this.setData({ draft: '' });
    this.render(true);
    this.deliver(local);
  },

  deliver(local) {
    local.failed = false;
    this.render(false);
    const req = local.kind === 'image'
      ? api.request('sendImage', { params: { patientID: this.pid }, filePath: local.localPath, formData: { client_msg_id: local.client_msg_id } })
      : api.request('sendMessage', { params: { patientID: this.pid }, data: requests.sendText(local.text, local.client_msg_id) });
    req.then((m) => {
      this.raw = views.mergeMessages(this.raw, [m]);
      this.render(true);
    }).catch((e) => {
      local.failed = true;
      this.render(false);
      if (e.status === 422 || e.status === 409 || e.status === 400) {
        this.raw = this.raw.filter((x) => x !== local);
        this.render(false);
        api.showError(e, '消息未发送');
      }
    });
  },

  // retry keeps the same client_msg_id, so a message that did arrive is not saved twice.
  retry(e) {
    const local = this.raw.find((m) => m.client_msg_id === e.currentTarget.dataset.id);
    if (local) this.deliver(local);
  },

  chooseImage() {
    wx.chooseMedia({
      count: 1, mediaType: ['image'], sizeType: ['compressed'], sourceType: ['album', 'camera'],
      success: (r) => {
        const f = r.tempFiles && r.tempFiles[0];
        if (!f) return;
        const local = { client_msg_id: ids.newId('m'), kind: 'image', localPath: f.tempFilePath };
        this.raw.push(local);
        this.render(true);
        this.deliver(local);
      }
    });
  },

  preview(e) {
    const url = e.currentTarget.dataset.url;
    if (url) wx.previewImage({ urls: [url], current: url });
  },

  onLongPress(e) {
    if (!e.currentTarget.dataset.mine) return;
    const id = e.currentTarget.dataset.id;
    wx.showActionSheet({
      itemList: ['撤回这条消息'],
      success: () => {
        api.request('recallMessage', { params: { patientID: this.pid, messageID: id } })
          .then((m) => { this.raw = views.mergeMessages(this.raw, [m]); this.render(false); })
          .catch((err) => api.showError(err, '无法撤回'));
      }
    });
  }
});
