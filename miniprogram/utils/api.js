// The API client: wx.request wrapper with token storage, silent refresh, one place for
// error display, and graceful handling of routes that have not shipped yet.
//
// Refreshes are SERIALIZED: the server rotates the refresh token and revokes the whole
// session when an old one is presented again, so two concurrent refreshes would log the
// user out. At most one refresh (or login) is in flight; every other caller waits for it
// and then uses its result.
const config = require('../config');
const E = require('./endpoints');
const storage = require('./storage');
const requests = require('./requests');
const ids = require('./ids');
const env = require('./env');

const TOKENS_KEY = 'cp.tokens';
const DEV_USER_KEY = 'cp.devUser';
const MAX_CONCURRENT = 8; // WeChat allows 10 concurrent requests/uploads; leave room for images
const EXPIRY_SLACK_MS = 30000;

function ApiError(status, code, message, details) {
  const e = new Error(message);
  e.name = 'ApiError';
  e.status = status;
  e.code = code;
  e.details = details || {};
  return e;
}

// --- concurrency limit ---------------------------------------------------------------
let active = 0;
const waiting = [];
function acquire() {
  if (active < MAX_CONCURRENT) { active++; return Promise.resolve(); }
  return new Promise(function (resolve) { waiting.push(resolve); });
}
function release() {
  const next = waiting.shift();
  if (next) next(); else active--;
}

function send(method, url, data, header) {
  return acquire().then(function () {
    return new Promise(function (resolve, reject) {
      wx.request({
        url: url, method: method, data: data, header: header, timeout: 15000,
        success: function (res) { resolve(res); },
        fail: function (err) {
          reject(ApiError(0, 'network_error', '网络连接不畅，请稍后再试', { errMsg: err && err.errMsg }));
        }
      });
    });
  }).then(function (res) { release(); return res; }, function (err) { release(); throw err; });
}

function upload(url, filePath, name, formData, header) {
  return acquire().then(function () {
    return new Promise(function (resolve, reject) {
      wx.uploadFile({
        url: url, filePath: filePath, name: name, formData: formData, header: header, timeout: 60000,
        success: function (res) {
          let data = res.data;
          try { data = JSON.parse(res.data); } catch (e) { /* not JSON */ }
          resolve({ statusCode: res.statusCode, data: data, header: res.header || {} });
        },
        fail: function (err) {
          reject(ApiError(0, 'network_error', '网络连接不畅，请稍后再试', { errMsg: err && err.errMsg }));
        }
      });
    });
  }).then(function (res) { release(); return res; }, function (err) { release(); throw err; });
}

// fetch downloads a file (wx.downloadFile) to a temporary path: {statusCode, tempFilePath}.
function fetchFile(url, header) {
  return acquire().then(function () {
    return new Promise(function (resolve, reject) {
      wx.downloadFile({
        url: url, header: header, timeout: 60000,
        success: function (res) { resolve({ statusCode: res.statusCode, tempFilePath: res.tempFilePath, header: res.header || {} }); },
        fail: function (err) {
          reject(ApiError(0, 'network_error', '网络连接不畅，请稍后再试', { errMsg: err && err.errMsg }));
        }
      });
    });
  }).then(function (res) { release(); return res; }, function (err) { release(); throw err; });
}

// readJsonFile reads a downloaded error body ({error:{code,message}}) if there is one.
function readJsonFile(path) {
  try { return JSON.parse(wx.getFileSystemManager().readFileSync(path, 'utf8')); } catch (e) { return null; }
}

// --- URLs ------------------------------------------------------------------------------
function buildUrl(ep, params, query) {
  const path = ep.path.replace(/\{(\w+)\}/g, function (_, k) {
    if (!params || params[k] === undefined || params[k] === null || params[k] === '') {
      throw new Error('missing path parameter ' + k + ' for ' + ep.name);
    }
    return encodeURIComponent(String(params[k]));
  });
  const qs = [];
  Object.keys(query || {}).forEach(function (k) {
    if ((ep.query || []).indexOf(k) < 0) throw new Error('query parameter ' + k + ' is not declared for ' + ep.name);
    const v = query[k];
    if (v !== undefined && v !== null && v !== '') qs.push(encodeURIComponent(k) + '=' + encodeURIComponent(String(v)));
  });
  return config.apiBase.replace(/\/$/, '') + path + (qs.length ? '?' + qs.join('&') : '');
}

// --- tokens ----------------------------------------------------------------------------
function now() { return Date.now(); }
function tokens() { return storage.get(TOKENS_KEY, null); }
function saveTokens(r) {
  const t = {
    access: r.access_token,
    refresh: r.refresh_token,
    accessExpiresAt: now() + r.expires_in * 1000,
    refreshExpiresAt: now() + r.refresh_expires_in * 1000,
    userId: r.user_id || ''
  };
  storage.set(TOKENS_KEY, t);
  return t;
}
function clearTokens() { storage.remove(TOKENS_KEY); }
function isLoggedIn() { const t = tokens(); return !!(t && t.refresh && t.refreshExpiresAt > now()); }

function setDevUser(name) { if (name) storage.set(DEV_USER_KEY, name); else storage.remove(DEV_USER_KEY); }
function devUser() { return env.devModeActive() ? storage.get(DEV_USER_KEY, '') : ''; }

// obtainCode gets a one-time login code: wx.login, or in dev mode a fresh fake code
// `test-<name>~<timestamp>` that the embedded fake WeChat server maps to the same person.
function obtainCode() {
  const dev = devUser();
  if (dev) return Promise.resolve('test-' + dev + '~' + now());
  return new Promise(function (resolve, reject) {
    wx.login({
      success: function (r) {
        if (r.code) resolve(r.code);
        else reject(ApiError(0, 'wx_login_failed', '微信登录失败，请稍后再试'));
      },
      fail: function () { reject(ApiError(0, 'wx_login_failed', '微信登录失败，请稍后再试')); }
    });
  });
}

let authInflight = null;
function exclusive(fn) {
  if (authInflight) return authInflight;
  authInflight = Promise.resolve().then(fn).then(function (t) { authInflight = null; return t; },
    function (e) { authInflight = null; throw e; });
  return authInflight;
}

function parseError(res) {
  const body = res && res.data;
  if (body && body.error && body.error.code) {
    return ApiError(res.statusCode, body.error.code, body.error.message || '请求失败', body.error.details);
  }
  return ApiError(res ? res.statusCode : 0, 'http_' + (res ? res.statusCode : 0), '服务暂时不可用，请稍后再试');
}

function doLogin() {
  return obtainCode().then(function (code) {
    return send('POST', buildUrl(E.login), requests.login(code), { 'Content-Type': 'application/json' });
  }).then(function (res) {
    if (res.statusCode === 200) return saveTokens(res.data);
    clearTokens();
    throw parseError(res);
  });
}

// login runs wx.login → POST /auth/wechat/login (serialized with refreshes).
function login() { return exclusive(doLogin); }

// refreshTokens swaps the refresh token for a new pair. usedAccess is the access token
// that got the 401 (or is expiring): when another caller has already replaced it, the
// new one is used and no second refresh is sent.
function refreshTokens(usedAccess) {
  const t = tokens();
  if (t && usedAccess && t.access !== usedAccess && t.accessExpiresAt - EXPIRY_SLACK_MS > now()) {
    return Promise.resolve(t);
  }
  return exclusive(function () {
    const cur = tokens();
    if (cur && usedAccess && cur.access !== usedAccess && cur.accessExpiresAt - EXPIRY_SLACK_MS > now()) return cur;
    if (!cur || !cur.refresh || cur.refreshExpiresAt <= now()) return doLogin();
    return send('POST', buildUrl(E.refresh), requests.refresh(cur.refresh), { 'Content-Type': 'application/json' })
      .then(function (res) {
        if (res.statusCode === 200) return saveTokens(res.data);
        if (res.statusCode === 400 || res.statusCode === 401) {
          clearTokens();
          return doLogin(); // the session is gone: a fresh wx.login
        }
        throw parseError(res);
      });
  });
}

function validToken() {
  if (authInflight) return authInflight;
  const t = tokens();
  if (!t || !t.access) return login();
  if (t.accessExpiresAt - EXPIRY_SLACK_MS <= now()) return refreshTokens(t.access);
  return Promise.resolve(t);
}

// --- requests --------------------------------------------------------------------------
function isRouteMissing(err) { return !!err && err.status === 404 && err.code === 'route_not_found'; }

// request calls the endpoint `name` (see utils/endpoints.js).
//   opts.params  path parameters      opts.query  query string      opts.data  JSON body
//   opts.idempotencyKey  sent as Idempotency-Key (keep it across retries of one user action);
//                        required exactly for the endpoints marked `idempotent`
//   opts.full    resolve {status, data, header} instead of data
function request(name, opts) {
  opts = opts || {};
  const ep = E[name];
  if (!ep) return Promise.reject(new Error('unknown endpoint ' + name));
  if (ep.idempotent && !ids.ID_PATTERN.test(opts.idempotencyKey || '')) return Promise.reject(new Error(name + ' needs an Idempotency-Key'));
  if (!ep.idempotent && opts.idempotencyKey) return Promise.reject(new Error(name + ' takes no Idempotency-Key'));
  let url;
  try { url = buildUrl(ep, opts.params, opts.query); } catch (e) { return Promise.reject(e); }
  const header = { 'Content-Type': 'application/json' };
  if (opts.idempotencyKey) header['Idempotency-Key'] = opts.idempotencyKey;

  function attempt(t) {
    const h = Object.assign({}, header);
    if (t) h.Authorization = 'Bearer ' + t.access;
    return ep.upload
      ? upload(url, opts.filePath, 'file', opts.formData || {}, h)
      : send(ep.method, url, opts.data, h);
  }

  const start = ep.auth === false ? Promise.resolve(null) : validToken();
  return start.then(function (t) {
    return attempt(t).then(function (res) {
      if (res.statusCode === 401 && t) return refreshTokens(t.access).then(attempt);
      return res;
    });
  }).then(function (res) {
    if (res.statusCode >= 200 && res.statusCode < 300) {
      return opts.full ? { status: res.statusCode, data: res.data, header: res.header || {} } : res.data;
    }
    const err = parseError(res);
    if (res.statusCode === 401) clearTokens();
    throw err;
  });
}

// download fetches a `download: true` endpoint (e.g. the FHIR export) into a temporary
// file with the bearer token, refreshing once on 401. Resolves the temporary file path.
function download(name, opts) {
  opts = opts || {};
  const ep = E[name];
  if (!ep || !ep.download) return Promise.reject(new Error('not a download endpoint ' + name));
  let url;
  try { url = buildUrl(ep, opts.params, opts.query); } catch (e) { return Promise.reject(e); }
  function attempt(t) { return fetchFile(url, { Authorization: 'Bearer ' + t.access }); }
  return validToken().then(function (t) {
    return attempt(t).then(function (res) {
      if (res.statusCode === 401) return refreshTokens(t.access).then(attempt);
      return res;
    });
  }).then(function (res) {
    if (res.statusCode >= 200 && res.statusCode < 300) return res.tempFilePath;
    const body = readJsonFile(res.tempFilePath);
    const err = parseError({ statusCode: res.statusCode, data: body });
    if (res.statusCode === 401) clearTokens();
    throw err;
  });
}

function logout() {
  return request('logout').catch(function () { /* the local session ends anyway */ })
    .then(function () { clearTokens(); setDevUser(''); });
}

// --- the one place that shows errors ------------------------------------------------------
function messageFor(err) {
  if (!err) return '出了点问题，请稍后再试';
  if (err.status === 0 || err.code === 'network_error') return '网络连接不畅，请检查网络后再试';
  if (err.status === 429) return '操作太频繁了，请稍等一会儿再试';
  if (err.status >= 500) return '服务暂时不可用，请稍后再试';
  if (err.status === 401) return '登录已失效，请重新进入';
  if (err.name === 'ApiError' && err.message) return err.message; // the server's zh-CN text
  return '出了点问题，请稍后再试';
}

function showError(err, title) {
  const content = messageFor(err);
  if (typeof wx === 'undefined') return content;
  wx.hideLoading && wx.hideLoading();
  wx.showModal({ title: title || '提示', content: content, showCancel: false, confirmText: '知道了' });
  return content;
}

function _reset() { // tests only
  authInflight = null; active = 0; waiting.length = 0;
}

module.exports = {
  request, download, login, logout, refreshTokens, validToken, tokens, isLoggedIn, clearTokens,
  setDevUser, devUser, obtainCode, buildUrl, showError, messageFor, isRouteMissing,
  ApiError, TOKENS_KEY, MAX_CONCURRENT, _reset
};
