// Subscription messages (订阅消息). wx.requestSubscribeMessage may only run inside a
// user's tap handler and takes at most 3 template ids per call, so callers pass the push
// kinds relevant to what the user just did (e.g. sending a message → cm_message).
// The answers are reported to POST /api/v1/subscriptions (the server counts one send
// credit per accept); a failed report never bothers the user.
const config = require('../config');
const requests = require('./requests');
const ids = require('./ids');

const MAX_PER_CALL = 3;

// templatesFor maps push kinds to configured template ids (unconfigured kinds are skipped).
function templatesFor(kinds) {
  const out = [];
  (kinds || []).forEach(function (k) {
    const id = config.templates && config.templates[k];
    if (id && out.every(function (x) { return x.id !== id; })) out.push({ kind: k, id: id });
  });
  return out.slice(0, MAX_PER_CALL);
}

// ask must be called synchronously from a tap handler. Resolves the reported results
// ([{kind, template_id, result}]) or [] when nothing was asked.
function ask(api, kinds) {
  const tpls = templatesFor(kinds);
  if (!tpls.length || typeof wx === 'undefined' || !wx.requestSubscribeMessage) return Promise.resolve([]);
  return new Promise(function (resolve) {
    wx.requestSubscribeMessage({
      tmplIds: tpls.map(function (t) { return t.id; }),
      success: function (res) { resolve(res || {}); },
      fail: function () { resolve(null); } // the user closed it, or the main switch is off
    });
  }).then(function (res) {
    if (!res) return [];
    const results = tpls.filter(function (t) { return typeof res[t.id] === 'string'; })
      .map(function (t) { return { kind: t.kind, template_id: t.id, result: res[t.id] }; });
    if (!results.length) return [];
    // One key per report: a retry (after a token refresh) adds no second credit.
    return api.request('subscriptions', { data: requests.subscriptions(results), idempotencyKey: ids.newId('sub') })
      .catch(function () { return null; }) // never bother the user with this
      .then(function () { return results; });
  });
}

module.exports = { ask, templatesFor, MAX_PER_CALL };
