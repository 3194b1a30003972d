// Realtime client for /api/v1/ws: one socket per app (WeChat allows 5), subprotocols
// `carepath.v1` and `bearer.<access token>` (never the token in the URL), one
// subscription per patient thread with the last seen seq as the cursor.
//
// Reconnects with exponential backoff and jitter (1 s → 30 s). Each (re)subscription
// sends after_seq, so the server replays what was missed; when the socket keeps failing
// (or the app comes back from the background) the thread is caught up over HTTP with
// GET …/thread/messages?after=<seq>. Messages are delivered once, in seq order.
const BASE_DELAY = 1000;
const MAX_DELAY = 30000;
const POLL_AFTER_FAILURES = 3;

function RealtimeClient(opts) {
  this.url = opts.url;
  this.connect = opts.connect;          // (url, protocols) → SocketTask-like
  this.getToken = opts.getToken;        // (forceRefresh) → Promise<string>
  this.fetchAfter = opts.fetchAfter;    // (patientId, afterSeq) → Promise<MessagePage>
  this.onEvent = opts.onEvent || function () {};
  this.setTimeout = opts.setTimeout || setTimeout;
  this.clearTimeout = opts.clearTimeout || clearTimeout;
  this.random = opts.random || Math.random;
  this.subs = {};        // patientId → last delivered seq
  this.socket = null;
  this.open = false;
  this.failures = 0;     // consecutive connections that did not reach "open"
  this.attempt = 0;
  this.timer = null;
  this.stopped = true;
  this.catchingUp = {};
}

RealtimeClient.prototype.backoff = function (attempt) {
  const d = Math.min(MAX_DELAY, BASE_DELAY * Math.pow(2, attempt));
  return Math.round(d * (0.5 + this.random() * 0.5));
};

RealtimeClient.prototype.start = function () {
  if (!this.stopped) return;
  this.stopped = false;
  this.dial();
};

RealtimeClient.prototype.stop = function () {
  this.stopped = true;
  if (this.timer) { this.clearTimeout(this.timer); this.timer = null; }
  if (this.socket) { try { this.socket.close({ code: 1000, reason: 'bye' }); } catch (e) { /* already closed */ } }
  this.socket = null;
  this.open = false;
};

RealtimeClient.prototype.dial = function () {
  const self = this;
  if (self.stopped || self.socket) return;
  const force = self.failures > 0 && self.failures % 2 === 0; // repeated handshake failures: maybe the token
  Promise.resolve(self.getToken(force)).then(function (token) {
    if (self.stopped || self.socket) return;
    const sock = self.connect(self.url, ['carepath.v1', 'bearer.' + token]);
    self.socket = sock;
    let opened = false;
    sock.onOpen(function () {
      opened = true;
      self.open = true;
      self.failures = 0;
      self.attempt = 0;
      Object.keys(self.subs).forEach(function (pid) { self.sendSubscribe(pid); });
      self.onEvent({ type: 'connected' });
    });
    sock.onMessage(function (m) { self.handle(m.data); });
    const closed = function (res) {
      if (self.socket !== sock) return;
      self.socket = null;
      self.open = false;
      if (!opened) self.failures++;
      self.onEvent({ type: 'disconnected', code: res && res.code });
      self.scheduleReconnect();
    };
    sock.onClose(closed);
    sock.onError(function () { closed({ code: 0 }); });
  }, function () {
    self.failures++;
    self.scheduleReconnect();
  });
};

RealtimeClient.prototype.scheduleReconnect = function () {
  const self = this;
  if (self.stopped || self.timer) return;
  const delay = self.backoff(self.attempt);
  self.attempt = Math.min(self.attempt + 1, 10);
  if (self.failures >= POLL_AFTER_FAILURES) self.catchUpAll(); // keep the chat alive over HTTP
  self.timer = self.setTimeout(function () { self.timer = null; self.dial(); }, delay);
};

RealtimeClient.prototype.sendFrame = function (frame) {
  if (!this.socket || !this.open) return false;
  this.socket.send({ data: JSON.stringify(frame) });
  return true;
};

RealtimeClient.prototype.sendSubscribe = function (pid) {
  return this.sendFrame({ type: 'subscribe', patient_id: pid, after_seq: this.subs[pid] || 0 });
};

// subscribe follows a patient's thread from afterSeq (the last seq the page already shows).
RealtimeClient.prototype.subscribe = function (pid, afterSeq) {
  const cur = this.subs[pid];
  this.subs[pid] = Math.max(cur || 0, afterSeq || 0);
  this.sendSubscribe(pid);
  this.start();
};

RealtimeClient.prototype.unsubscribe = function (pid) {
  delete this.subs[pid];
  this.sendFrame({ type: 'unsubscribe', patient_id: pid });
};

RealtimeClient.prototype.cursor = function (pid) { return this.subs[pid] || 0; };

// deliver passes a message on once and in order; older or repeated seqs are dropped.
RealtimeClient.prototype.deliver = function (pid, msg) {
  if (!(pid in this.subs)) return false;
  if (!msg || typeof msg.seq !== 'number' || msg.seq <= this.subs[pid]) return false;
  this.subs[pid] = msg.seq;
  this.onEvent({ type: 'message', patient_id: pid, message: msg });
  return true;
};

RealtimeClient.prototype.handle = function (raw) {
  let evt;
  try { evt = typeof raw === 'string' ? JSON.parse(raw) : raw; } catch (e) { return; }
  if (!evt || !evt.type) return;
  switch (evt.type) {
    case 'message':
      if (evt.message) this.deliver(evt.patient_id || evt.message.patient_id, evt.message);
      return;
    case 'unsubscribed':
      if (evt.code !== 'requested') delete this.subs[evt.patient_id]; // e.g. access_revoked
      this.onEvent(evt);
      return;
    default:
      this.onEvent(evt); // hello, subscribed, read, alert, pong, error
  }
};

// catchUp fetches everything after the cursor over HTTP (page by page).
RealtimeClient.prototype.catchUp = function (pid) {
  const self = this;
  if (self.catchingUp[pid]) return self.catchingUp[pid];
  function page(guard) {
    if (!(pid in self.subs) || guard > 50) return Promise.resolve();
    return Promise.resolve(self.fetchAfter(pid, self.subs[pid])).then(function (res) {
      if (!res) return null;
      (res.items || []).slice().sort(function (a, b) { return a.seq - b.seq; })
        .forEach(function (m) { self.deliver(pid, m); });
      if (res.has_more && (res.items || []).length) return page(guard + 1);
      return null;
    });
  }
  self.catchingUp[pid] = page(0).then(function () { delete self.catchingUp[pid]; },
    function (e) { delete self.catchingUp[pid]; throw e; });
  return self.catchingUp[pid];
};

RealtimeClient.prototype.catchUpAll = function () {
  const self = this;
  return Promise.all(Object.keys(self.subs).map(function (pid) {
    return self.catchUp(pid).catch(function () { /* offline: the next attempt retries */ });
  }));
};

// resume is called from App.onShow: the socket may have died in the background.
RealtimeClient.prototype.resume = function () {
  const self = this;
  const p = self.catchUpAll();
  if (self.stopped) return p;
  if (!self.socket) {
    if (self.timer) { self.clearTimeout(self.timer); self.timer = null; }
    self.attempt = 0;
    self.dial();
  }
  return p;
};

module.exports = { RealtimeClient, BASE_DELAY, MAX_DELAY, POLL_AFTER_FAILURES };
