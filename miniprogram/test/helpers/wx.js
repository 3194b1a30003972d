// A fake `wx` global: synchronous storage, and wx.request / wx.uploadFile answered by a
// handler the test provides. Responses are delivered asynchronously like the real thing.
function installWx(handler) {
  const store = {};
  const calls = [];
  const wx = {
    _store: store,
    _calls: calls,
    _handler: handler || function () { return { statusCode: 404, data: { error: { code: 'route_not_found', message: '请求的接口不存在' } } }; },
    _loginCodes: 0,
    getStorageSync: function (k) { return k in store ? JSON.parse(store[k]) : ''; },
    setStorageSync: function (k, v) { store[k] = JSON.stringify(v); },
    removeStorageSync: function (k) { delete store[k]; },
    request: function (o) {
      const call = { method: o.method, url: o.url, data: o.data, header: o.header };
      calls.push(call);
      Promise.resolve().then(function () { return wx._handler(call); }).then(function (res) {
        if (res && res.fail) o.fail({ errMsg: 'request:fail ' + res.fail });
        else o.success(Object.assign({ header: {} }, res));
      });
    },
    uploadFile: function (o) {
      const call = { method: 'POST', url: o.url, filePath: o.filePath, name: o.name, formData: o.formData, header: o.header, upload: true };
      calls.push(call);
      Promise.resolve().then(function () { return wx._handler(call); }).then(function (res) {
        if (res && res.fail) o.fail({ errMsg: 'uploadFile:fail' });
        else o.success({ statusCode: res.statusCode, data: JSON.stringify(res.data), header: {} });
      });
    },
    login: function (o) { wx._loginCodes++; o.success({ code: 'wxcode-' + wx._loginCodes }); },
    showModal: function (o) { wx._lastModal = o; },
    showToast: function (o) { wx._lastToast = o; },
    hideLoading: function () {},
    requestSubscribeMessage: null
  };
  global.wx = wx;
  return wx;
}

function json(status, data) { return { statusCode: status, data: data }; }
function apiError(status, code, message) { return json(status, { error: { code: code, message: message || code } }); }

function tokenResponse(n) {
  return { access_token: 'access-' + n, token_type: 'Bearer', expires_in: 900, refresh_token: 'refresh-' + n, refresh_expires_in: 2592000, user_id: 'u1' };
}

// freshModules reloads the client modules so module-level state starts clean.
function freshModules() {
  jest.resetModules();
  return {
    api: require('../../utils/api'),
    queue: require('../../utils/queue'),
    requests: require('../../utils/requests'),
    session: require('../../utils/session')
  };
}

function flushPromises() { return new Promise(function (r) { setImmediate(r); }); }

module.exports = { installWx, json, apiError, tokenResponse, freshModules, flushPromises };
