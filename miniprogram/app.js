const config = require('./config');
const api = require('./utils/api');
const session = require('./utils/session');
const queue = require('./utils/queue');
const idem = require('./utils/idem');
const { RealtimeClient } = require('./utils/ws');

App({
  globalData: { realtime: null, realtimeListeners: [] },

  onLaunch() {
    wx.onNetworkStatusChange && wx.onNetworkStatusChange((res) => {
      if (res.isConnected && api.isLoggedIn()) this.flushReadings();
    });
  },

  onShow() {
    // Back from the background: requests may have failed, the socket may be gone.
    if (!api.isLoggedIn()) return;
    this.flushReadings();
    if (this.globalData.realtime) this.globalData.realtime.resume();
  },

  onHide() {
    // JS is suspended in the background; the server closes idle sockets. Reconnect on show.
  },

  // ready resolves the current user once logged in with the privacy policy accepted;
  // otherwise it sends the user to the login page.
  ready() {
    if (!api.isLoggedIn()) {
      wx.reLaunch({ url: '/pages/login/login' });
      return Promise.reject(new Error('not logged in'));
    }
    const me = session.get();
    if (me) return Promise.resolve(me);
    return session.load().catch((err) => {
      if (err && err.status === 401) wx.reLaunch({ url: '/pages/login/login' });
      else api.showError(err);
      throw err;
    });
  },

  flushReadings() {
    if (!queue.pending().length) return Promise.resolve(null);
    return queue.flush(api).catch(() => null);
  },

  // realtime returns the one WebSocket client of the app (WeChat allows 5 sockets).
  realtime() {
    if (this.globalData.realtime) return this.globalData.realtime;
    const listeners = this.globalData.realtimeListeners;
    const client = new RealtimeClient({
      url: config.wsUrl,
      connect: (url, protocols) => wx.connectSocket({ url, protocols }),
      getToken: (force) => (force ? api.refreshTokens(api.tokens() && api.tokens().access) : api.validToken()).then((t) => t.access),
      fetchAfter: (pid, after) => api.request('messages', { params: { patientID: pid }, query: { after, limit: 100 } }),
      onEvent: (evt) => listeners.slice().forEach((f) => f(evt))
    });
    this.globalData.realtime = client;
    return client;
  },

  onRealtime(fn) {
    this.globalData.realtimeListeners.push(fn);
    return () => {
      const l = this.globalData.realtimeListeners;
      const i = l.indexOf(fn);
      if (i >= 0) l.splice(i, 1);
    };
  },

  // endSession forgets everything local about the account (after a deactivation the
  // server has already revoked every token, so there is no logout call to make).
  endSession() {
    if (this.globalData.realtime) this.globalData.realtime.stop();
    this.globalData.realtime = null;
    const t = api.tokens();
    if (t && t.userId) queue.forgetUser(t.userId);
    idem.forgetAll();
    session.clear();
    api.clearTokens();
    api.setDevUser('');
    return wx.reLaunch({ url: '/pages/login/login' });
  },

  logout() {
    if (this.globalData.realtime) this.globalData.realtime.stop();
    this.globalData.realtime = null;
    session.clear();
    idem.forgetAll(); // unfinished actions are the account's own
    return api.logout().then(() => wx.reLaunch({ url: '/pages/login/login' }));
  }
});
