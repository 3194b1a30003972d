#!/usr/bin/env node
// Smoke run of the mini-program's own modules (utils/*) against a running CarePath server,
// with `wx` backed by Node's fetch. Not part of `npm test` (it needs a server):
//   (cd .. && CAREPATH_HTTP_ADDR=127.0.0.1:18181 go run ./cmd/carepath serve) &
//   CAREPATH_API=http://127.0.0.1:18181 node --experimental-websocket scripts/smoke.js   (Node 20; plain node on ≥ 22)
// Prints only step names and outcomes: never tokens or health values.
const base = process.env.CAREPATH_API || 'http://127.0.0.1:8080';
const store = {};

function makeWx() {
  return {
    getStorageSync: (k) => (k in store ? JSON.parse(store[k]) : ''),
    setStorageSync: (k, v) => { store[k] = JSON.stringify(v); },
    removeStorageSync: (k) => { delete store[k]; },
    request: (o) => {
      const init = { method: o.method, headers: o.header };
      if (o.data !== undefined && o.method !== 'GET') init.body = JSON.stringify(o.data);
      fetch(o.url, init).then(async (r) => {
        const text = await r.text();
        let data = text;
        try { data = JSON.parse(text); } catch (e) { /* not JSON */ }
        o.success({ statusCode: r.status, data, header: Object.fromEntries(r.headers) });
      }, (e) => o.fail({ errMsg: String(e) }));
    },
    login: (o) => o.fail({ errMsg: 'no wx.login in Node' }),
    showModal: () => {}, hideLoading: () => {}
  };
}

global.wx = makeWx();
const config = require('../config');
config.apiBase = base;
config.devMode = true;

function fresh() {
  Object.keys(require.cache).forEach((k) => { if (k.includes('/utils/')) delete require.cache[k]; });
  return {
    api: require('../utils/api'), session: require('../utils/session'), requests: require('../utils/requests'),
    views: require('../utils/views'), queue: require('../utils/queue'), ids: require('../utils/ids'), format: require('../utils/format'), validate: require('../utils/validate')
  };
}

let failures = 0;
async function step(name, fn) {
  try { const r = await fn(); process.stdout.write('ok   ' + name + (r ? ' — ' + r : '') + '\n'); }
  catch (e) { failures++; process.stdout.write('FAIL ' + name + ' — ' + (e.code || '') + ' ' + e.message + '\n'); }
}

(async () => {
  const stamp = Date.now();
  let m = fresh();
  let me, pid;
  await step('patient login (test-patient1~…) and privacy consent', async () => {
    m.api.setDevUser('patient1');
    await m.api.login();
    const c = await m.api.request('myConsents').catch((e) => (m.api.isRouteMissing(e) ? null : Promise.reject(e))); // older servers
    if (c && !c.privacy_policy.accepted) await m.api.request('acceptPrivacy', { data: m.requests.acceptPrivacy(c.privacy_policy.current_version) });
    me = await m.session.load();
    pid = m.session.selectedPatientId();
    if (!pid) throw new Error('no patient record');
    return 'people=' + m.session.people().length;
  });
  await step('home in one call', async () => {
    const home = await m.api.request('home', { params: { patientID: pid } });
    const h = m.views.homeModel(home);
    return 'plan=' + h.hasPlan + ' stage=' + (h.stage ? 'yes' : 'no') + ' appointment=' + (h.appointment ? 'yes' : 'no') + ' readings=' + h.readings.length;
  });
  await step('timeline', async () => {
    const plan = await m.api.request('plan', { params: { patientID: pid } }).catch((e) => (e.status === 404 ? null : Promise.reject(e)));
    return 'stages=' + m.views.timelineModel(plan).stages.length;
  });
  await step('education article', async () => {
    const feed = await m.api.request('educationFeed', { params: { patientID: pid } });
    if (!feed.items.length) return 'no items';
    const d = await m.api.request('educationOpen', { params: { patientID: pid, assignmentID: feed.items[0].id } });
    return 'html chars=' + d.html.length;
  });
  await step('chat: send with client_msg_id, retry is idempotent, read receipt', async () => {
    const body = m.requests.sendText('smoke ' + stamp);
    const a = await m.api.request('sendMessage', { params: { patientID: pid }, data: body, full: true });
    const b = await m.api.request('sendMessage', { params: { patientID: pid }, data: body, full: true });
    if (a.data.id !== b.data.id || b.status !== 200) throw new Error('retry created a second message');
    const page = await m.api.request('messages', { params: { patientID: pid }, query: { after: a.data.seq - 1 } });
    const items = m.views.messageItems(page.items, me.user.id);
    if (!items.some((x) => x.mine)) throw new Error('own message not recognised');
    await m.api.request('readThread', { params: { patientID: pid }, data: m.requests.readThread(a.data.seq) });
    return 'first=' + a.status + ' retry=' + b.status;
  });
  await step('readings: queue + flush, single-post retry replayed', async () => {
    const body = m.requests.observation('pain', { score: 2, context: 'rest' }, { measuredAt: m.format.isoWithZone(new Date()) });
    m.queue.enqueue(pid, body);
    const r = await m.queue.flush(m.api);
    if (r.rejected.length) throw new Error('rejected: ' + r.rejected.map((x) => x.status + ' ' + (x.error && x.error.code) + ' ' + (x.error && x.error.message)).join('; '));
    if (r.sent.length) {
      // the same reading again with its key: replayed, not duplicated
      const again = await m.api.request('reportObservation', { params: { patientID: pid }, data: body, idempotencyKey: body.id, full: true });
      if (again.data.reading.id !== r.sent[0].result.reading.id) throw new Error('retry created a second reading');
      return 'sent=1, single-post retry replayed (Idempotent-Replayed=' + (again.header['idempotent-replayed'] || '') + ')';
    }
    return 'sent=' + r.sent.length + ' remaining=' + r.remaining + (r.error ? ' (' + r.error.code + ')' : '');
  });
  await step('trend', async () => {
    const t = await m.api.request('trend', { params: { patientID: pid, type: 'blood_pressure' }, query: { range: '30d' } });
    return 'series=' + t.series.length;
  });
  let code;
  await step('family: health-data consent, invite', async () => {
    const c = await m.api.request('patientConsents', { params: { patientID: pid } });
    if (!c.health_data.active) await m.api.request('grantHealthData', { params: { patientID: pid }, data: m.requests.grantHealthData(c.health_data.current_version) });
    const iss = await m.api.request('invite', { params: { patientID: pid }, data: m.requests.invite('女儿', ['view_plan', 'message']) });
    code = iss.code;
    return 'page=' + iss.page;
  });
  await step('refresh: concurrent expiry triggers one refresh, session survives', async () => {
    const t = m.api.tokens();
    t.accessExpiresAt = Date.now(); // force
    global.wx.setStorageSync('cp.tokens', t);
    await Promise.all([m.api.request('me'), m.api.request('me'), m.api.request('myConsents')]);
    return 'ok';
  });
  m = fresh();
  await step('relative: fresh user accepts the invitation and switches to the patient', async () => {
    m.api.clearTokens();
    m.api.setDevUser('smokefamily' + stamp);
    await m.api.login();
    const c = await m.api.request('myConsents');
    await m.api.request('acceptPrivacy', { data: m.requests.acceptPrivacy(c.privacy_policy.current_version) });
    const p = await m.api.request('previewInvitation', { params: { code } });
    const a = await m.api.request('acceptInvitation', { params: { code } });
    await m.session.load();
    m.session.select(a.patient_id);
    if (m.session.selectedPatientId() !== pid) throw new Error('switch failed');
    if (m.session.can('report')) throw new Error('scope leak');
    await m.api.request('thread', { params: { patientID: pid } });
    return 'scopes=' + p.scopes.length + ' can(message)=' + m.session.can('message');
  });
  await step('notifications centre, questionnaires, appointments, subscription report', async () => {
    m = fresh();
    m.api.setDevUser('patient1');
    await m.api.login();
    await m.session.load();
    const n = await m.api.request('notifications', { params: { patientID: pid }, query: { limit: 30 } });
    const read = await m.api.request('notificationsRead', { params: { patientID: pid }, data: m.requests.notificationsRead([]) });
    const q = await m.api.request('questionnaires', { params: { patientID: pid }, query: { limit: 50 } });
    const ap = await m.api.request('appointments', { params: { patientID: pid }, query: { when: 'upcoming' } });
    const sub = await m.api.request('subscriptions', { data: m.requests.subscriptions([{ template_id: 'tmpl-cm-message', result: 'accept' }]), idempotencyKey: m.ids.newId('sub') });
    let answered = 'none pending';
    const pend = q.items.find((x) => x.status === 'pending');
    if (pend) {
      const raw = {};
      pend.questionnaire.items.forEach((it) => {
        const o = it.options && it.options[0];
        raw[it.key] = it.type === 'single' ? o.value : it.type === 'multiple' ? [o.value] : it.type === 'text' ? '好' : (it.min !== undefined ? it.min : 1);
      });
      const v = m.validate.questionnaire(pend.questionnaire, raw);
      if (!v.ok) throw new Error('client validation refused a full answer: ' + JSON.stringify(v.errors));
      const res = await m.api.request('questionnaireAnswer', { params: { patientID: pid, assignmentID: pend.id }, data: m.requests.questionnaireAnswers(v.value), idempotencyKey: m.ids.newId('q') });
      answered = res.status + (res.band_name ? ' (' + res.band_name + ')' : '');
    }
    let appt = 'none';
    const a0 = ap.items.find((x) => x.status === 'scheduled' || x.status === 'confirmed'); // a second run finds it already requested
    if (a0) {
      const when = [m.format.localToIso(m.format.localDay(Date.now() + 20 * 86400000), '09:30')];
      const r1 = a0.status === 'scheduled' ? await m.api.request('appointmentConfirm', { params: { patientID: pid, appointmentID: a0.id }, idempotencyKey: m.ids.newId('ap') }) : a0;
      const r2 = await m.api.request('appointmentReschedule', { params: { patientID: pid, appointmentID: a0.id }, data: m.requests.appointmentReschedule(when, 'smoke'), idempotencyKey: m.ids.newId('ap') });
      appt = r1.status + '→' + r2.status;
    }
    return 'answered=' + answered + ' appointment=' + appt + ' notifications=' + n.notifications.length + ' marked=' + read.marked + ' questionnaires=' + q.items.length +
      ' appointments=' + ap.items.length + ' subscriptions=' + sub.subscriptions.length;
  });
  await step('export summary and deactivation', async () => {
    m = fresh();
    m.api.setDevUser('patient1');
    await m.api.login();
    const sum = await m.api.request('exportSummary', { params: { patientID: pid } });
    m = fresh();
    m.api.clearTokens();
    m.api.setDevUser('smoke-relative-' + stamp); // a throwaway user: deactivating it harms no one
    await m.api.login();
    const d = await m.api.request('deactivate', { data: m.requests.deactivate('注销', 'smoke') });
    m.api.setDevUser('');
    const after = await m.api.request('me').then(() => 'still logged in', (e) => 'me→' + (e.status || e.code));
    if (after === 'still logged in') throw new Error('the token still works after deactivation');
    return 'summary=' + sum.sections.length + ' sections deactivate=done at ' + d.deactivated_at + ', ' + after;
  });
  if (typeof WebSocket === 'function') {
    m = fresh();
    await step('realtime: WebSocket with bearer subprotocol, subscribe after cursor, live message', async () => {
      m.api.clearTokens();
      m.api.setDevUser('patient1');
      await m.api.login();
      await m.session.load();
      const page = await m.api.request('messages', { params: { patientID: pid }, query: { limit: 1 } });
      const after = page.last_seq;
      const { RealtimeClient } = require('../utils/ws');
      const got = [];
      const wsUrl = base.replace(/^http/, 'ws') + '/api/v1/ws';
      const client = new RealtimeClient({
        url: wsUrl,
        connect: (url, protocols) => {
          const ws = new WebSocket(url, protocols);
          return {
            onOpen: (f) => ws.addEventListener('open', () => f()),
            onMessage: (f) => ws.addEventListener('message', (e) => f({ data: e.data })),
            onClose: (f) => ws.addEventListener('close', (e) => f({ code: e.code })),
            onError: (f) => ws.addEventListener('error', () => f()),
            send: (o) => ws.send(o.data),
            close: () => ws.close()
          };
        },
        getToken: () => m.api.validToken().then((t) => t.access),
        fetchAfter: (p, a) => m.api.request('messages', { params: { patientID: p }, query: { after: a } }),
        onEvent: (e) => got.push(e)
      });
      client.subscribe(pid, Math.max(0, after - 1)); // one old message is replayed by the server
      await new Promise((r) => setTimeout(r, 1500));
      const sent = await m.api.request('sendMessage', { params: { patientID: pid }, data: m.requests.sendText('realtime ' + stamp) });
      await new Promise((r) => setTimeout(r, 1500));
      client.stop();
      const seqs = got.filter((e) => e.type === 'message').map((e) => e.message.seq);
      if (!got.some((e) => e.type === 'subscribed')) throw new Error('no subscribed frame: ' + got.map((e) => e.type + (e.code ? ':' + e.code : '')).join(','));
      if (seqs.indexOf(sent.seq) < 0) throw new Error('live message not delivered');
      if (after > 0 && seqs.indexOf(after) < 0) throw new Error('replay after cursor missing');
      return 'events=' + got.map((e) => e.type).join(',');
    });
  } else {
    process.stdout.write('skip realtime (run with node --experimental-websocket on Node 20)\n');
  }
  process.stdout.write(failures ? failures + ' step(s) failed\n' : 'all steps passed\n');
  process.exit(failures ? 1 : 0);
})();
