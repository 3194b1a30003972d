// Contract test: the mini-program's API client against api/openapi.yaml.
//
// utils/endpoints.js is the ONE table of every HTTP route the app calls. For each entry:
//   1. method + path exist in api/openapi.yaml (a path the spec does not have FAILS);
//      path and query parameters are declared; bearer auth matches; the entry is marked
//      `idempotent` (the app sends an Idempotency-Key) exactly where the spec declares one;
//   2. every request body the client builds (utils/requests.js) satisfies the request
//      schema (Ajv, JSON Schema), and a route needing a body gets one;
//   3. a sample response for it — hand-written in test/fixtures/responses.js where pages
//      render it, else generated from the schema — satisfies the response schema, and the
//      client's view models handle it.
const fs = require('fs');
const path = require('path');
const S = require('./helpers/openapi');
const { sample } = require('./helpers/schema');

const E = require('../utils/endpoints');
const B = require('../utils/requests');
const views = require('../utils/views');
const chart = require('../utils/chart');
const RESPONSES = require('./fixtures/responses');

const doc = S.main;

// problems lists what is wrong with one endpoint entry against the spec (empty = fine).
function problems(ep) {
  const out = [];
  const found = S.findOp(ep);
  if (!found) {
    out.push(ep.method + ' ' + ep.path + ' is not in api/openapi.yaml');
    return out;
  }
  const params = S.parameters(found);
  const declared = params.filter((p) => p.in === 'path').map((p) => p.name).sort();
  const used = (ep.path.match(/\{(\w+)\}/g) || []).map((x) => x.slice(1, -1)).sort();
  if (JSON.stringify(declared) !== JSON.stringify(used)) out.push('path parameters ' + used + ' vs spec ' + declared);
  const queries = params.filter((p) => p.in === 'query').map((p) => p.name);
  (ep.query || []).forEach((q) => { if (queries.indexOf(q) < 0) out.push('query parameter ' + q + ' not declared'); });
  if (ep.auth === false) { if (!(Array.isArray(found.op.security) && found.op.security.length === 0)) out.push('spec requires auth'); }
  else if (Array.isArray(found.op.security) && found.op.security.length === 0) out.push('spec route is public but the client sends a token');
  const wantsKey = params.some((p) => p.in === 'header' && p.name === 'Idempotency-Key');
  if (wantsKey && !ep.idempotent) out.push('spec takes an Idempotency-Key the client does not send');
  if (!wantsKey && ep.idempotent) out.push('client sends an Idempotency-Key the spec does not declare');
  if (ep.download) {
    const r = S.successResponse(found);
    if (r.contentType !== ep.contentType) out.push('download content type ' + ep.contentType + ' vs spec ' + r.contentType);
  }
  return out;
}

// Sample arguments for each request-body builder (typical values a page passes).
const measuredAt = '2026-11-23T08:00:00+08:00';
const SAMPLES = {
  login: [['test-patient1~1700000000000']],
  refresh: [['rt-abc']],
  bindPhone: [['phone-13800000001']],
  acceptPrivacy: [['2026-01']],
  grantHealthData: [['2026-01']],
  withdrawConsent: [[]],
  sendText: [['您好，我今天有点头晕'], ['复查时间？', 'm-1']],
  readThread: [[12]],
  scopes: [[['view_plan', 'message']]],
  invite: [['女儿', ['view_plan', 'view_vitals', 'message', 'report']]],
  observation: [
    ['blood_pressure', { systolic: 135, diastolic: 85, pulse: 72 }, { measuredAt }],
    ['glucose', { value: 6.1, unit: 'mmol/L', context: 'fasting' }, { measuredAt }],
    ['glucose', { value: 110, unit: 'mg/dL', context: 'after_meal' }, { measuredAt }],
    ['pain', { score: 4, context: 'movement', location: '膝盖' }, { measuredAt, note: '走路时' }],
    ['weight', { value: 65.5, unit: 'kg' }, { measuredAt }]
  ],
  observationBatch: [[[B.observation('pain', { score: 2, context: 'rest' }, { measuredAt })]]],
  subscriptions: [[[{ kind: 'cm_message', template_id: 'T1', result: 'accept' }, { kind: 'stage_begins', template_id: 'T2', result: 'reject' }]]],
  appointmentCancel: [['身体不适，去不了']],
  appointmentReschedule: [[['2026-12-12T09:30:00+08:00', '2026-12-13T14:00:00+08:00'], '那天要出差'], [['2026-12-12T09:30:00+08:00']]],
  questionnaireAnswers: [[{ walk_flat: '1', aids: ['cane'], pain_now: 3, walk_minutes: 30, other: '' }]],
  notificationsRead: [[['n1', 'n2']], [[]]],
  deactivate: [['注销', '不再需要'], ['注销']]
};

describe('contract: the endpoint table against api/openapi.yaml', () => {
  test('the spec is there and parses', () => {
    expect(S.main.openapi).toMatch(/^3\./);
  });

  const names = Object.keys(E);
  test.each(names)('%s: method, path, parameters and auth match the spec', (name) => {
    expect(problems(E[name])).toEqual([]);
  });

  test('the check fails for a path or method the spec does not have', () => {
    expect(problems({ name: 'x', method: 'GET', path: '/api/v1/patients/{patientID}/no-such-thing' })).toHaveLength(1);
    expect(problems({ name: 'x', method: 'DELETE', path: '/api/v1/me' })).toHaveLength(1);
    // undeclared query parameter, wrong path parameter name
    expect(problems({ name: 'x', method: 'GET', path: '/api/v1/patients/{patientID}/thread/messages', query: ['since'] })).toEqual(['query parameter since not declared']);
    expect(problems({ name: 'x', method: 'GET', path: '/api/v1/patients/{pid}/thread' })).toHaveLength(1);
  });

  test('no endpoint is exempt from the spec: no pending marks, no fixture beside it', () => {
    expect(names.filter((n) => 'pending' in E[n])).toEqual([]);
    expect(fs.existsSync(path.join(__dirname, 'fixtures', 'pending-contract.yaml'))).toBe(false);
  });

  test('Idempotency-Key: the table declares it exactly where the spec does', () => {
    const declaring = Object.keys(doc.paths).reduce((acc, p) => acc.concat(Object.keys(doc.paths[p])
      .filter((m) => ['get', 'put', 'post', 'delete', 'patch'].indexOf(m) >= 0)
      .filter((m) => S.parameters({ item: doc.paths[p], op: doc.paths[p][m] }).some((x) => x.in === 'header' && x.name === 'Idempotency-Key'))
      .map((m) => m.toUpperCase() + ' ' + p)), []);
    const called = names.filter((n) => E[n].idempotent).map((n) => E[n].method + ' ' + E[n].path);
    // every idempotent route the app calls is declared idempotent in the spec, and back
    const app = names.map((n) => E[n].method + ' ' + E[n].path);
    expect(called.slice().sort()).toEqual(declaring.filter((r) => app.indexOf(r) >= 0).sort());
    // the routes this release added the header to are among them
    ['questionnaireAnswer', 'appointmentConfirm', 'appointmentCancel', 'appointmentReschedule', 'subscriptions']
      .forEach((n) => expect([n, E[n].idempotent]).toEqual([n, true]));
    // and the check notices a missing or a surplus mark
    expect(problems(Object.assign({}, E.appointmentCancel, { idempotent: false }))).toEqual(['spec takes an Idempotency-Key the client does not send']);
    expect(problems(Object.assign({}, E.plan, { idempotent: true }))).toEqual(['client sends an Idempotency-Key the spec does not declare']);
  });

  test('every endpoint in the table is called by the app (no stale entries)', () => {
    const root = path.join(__dirname, '..');
    let src = '';
    (function walk(dir) {
      fs.readdirSync(dir, { withFileTypes: true }).forEach((d) => {
        if (['node_modules', 'test', 'scripts'].indexOf(d.name) >= 0) return;
        const p = path.join(dir, d.name);
        if (d.isDirectory()) walk(p); else if (p.endsWith('.js') && !p.endsWith('endpoints.js')) src += fs.readFileSync(p, 'utf8');
      });
    })(root);
    const internal = ['login', 'refresh']; // called by utils/api.js through E.login / E.refresh
    const unused = names.filter((n) => internal.indexOf(n) < 0 && src.indexOf("'" + n + "'") < 0);
    expect(unused).toEqual([]);
  });

  const withBodies = names.filter((n) => E[n].body);
  test.each(withBodies)('%s: request bodies satisfy the request schema', (name) => {
    const ep = E[name];
    const builder = B[ep.body];
    expect(typeof builder).toBe('function');
    const found = S.findOp(ep);
    const schema = S.requestSchema(found);
    expect(schema).toBeTruthy();
    const argsList = SAMPLES[ep.body];
    expect(argsList).toBeDefined();
    argsList.forEach((args) => {
      const body = builder.apply(null, args);
      expect([args, S.check(schema, body)]).toEqual([args, []]);
    });
  });

  test('the request-body check catches a wrong shape', () => {
    const schema = S.requestSchema(S.findOp(E.appointmentReschedule));
    expect(S.check(schema, { preferred_dates: ['2026-12-01'] }).length).toBeGreaterThan(0);
    expect(S.check(schema, { preferred_times: ['2026-12-01'] }).length).toBeGreaterThan(0); // not a date-time
    expect(S.check(S.requestSchema(S.findOp(E.subscriptions)), { results: [{ kind: 'x', template_id: 't', result: 'accept' }] }).length).toBeGreaterThan(0);
    expect(S.check(S.requestSchema(S.findOp(E.deactivate)), { reason: '不再需要' }).length).toBeGreaterThan(0); // confirm missing
  });

  test('routes with a required body get one from the client', () => {
    names.forEach((name) => {
      const ep = E[name];
      const found = S.findOp(ep);
      const rb = found.op.requestBody && S.resolve(found.op.requestBody);
      if (!rb || !rb.required) { expect([name, !!ep.body && !rb]).toEqual([name, false]); return; }
      if (ep.upload) {
        const mp = rb.content['multipart/form-data'];
        expect(mp).toBeDefined();
        expect(ep.formData.slice().sort()).toEqual(mp.schema.required.slice().sort());
        return;
      }
      expect([name, !!ep.body]).toEqual([name, true]);
    });
  });

  test.each(names)('%s: its sample response satisfies the response schema', (name) => {
    const ep = E[name];
    const r = S.successResponse(S.findOp(ep));
    if (!r.schema) { expect([name, RESPONSES[name]]).toEqual([name, undefined]); return; } // e.g. 204
    const list = RESPONSES[name] ? [RESPONSES[name]] : [sample(doc, r.schema, true), sample(doc, r.schema, false)];
    list.forEach((body) => expect([name, S.check(r.schema, body)]).toEqual([name, []]));
  });

  test('the hand-written responses are all for endpoints in the table', () => {
    Object.keys(RESPONSES).filter((k) => typeof RESPONSES[k] !== 'function')
      .forEach((k) => expect([k, !!E[k]]).toEqual([k, true]));
  });

  function samples(name) {
    const found = S.findOp(E[name]);
    const r = S.successResponse(found);
    if (!r.schema) return [];
    return [sample(doc, r.schema, true), sample(doc, r.schema, false)].map((s) => {
      expect(S.check(r.schema, s)).toEqual([]); // the generator itself is honest
      return s;
    });
  }

  test('error bodies from the spec are shown with the server message', () => {
    const err = sample(doc, doc.components.schemas.Error, true);
    const { installWx } = require('./helpers/wx');
    installWx();
    const api = require('../utils/api');
    expect(api.messageFor(Object.assign(api.ApiError(422, err.error.code, err.error.message), {}))).toBe(err.error.message);
  });

  test('responses: login/refresh tokens are stored', async () => {
    const { installWx } = require('./helpers/wx');
    const toks = samples('login').concat(samples('refresh'));
    expect(toks).toHaveLength(4);
    for (const tok of toks) {
      const wx = installWx();
      jest.resetModules();
      const api = require('../utils/api');
      wx._handler = () => ({ statusCode: 200, data: tok });
      await api.login();
      expect(api.tokens().access).toBe(tok.access_token);
      expect(api.tokens().accessExpiresAt).toBeGreaterThan(Date.now());
    }
  });

  test('responses: me → the relative switcher', () => {
    const session = require('../utils/session');
    samples('me').forEach((me) => {
      const people = session.people(me);
      if (me.patient) expect(people[0].self).toBe(true);
      expect(people.length).toBe((me.patient ? 1 : 0) + me.relatives.length);
    });
  });

  test('responses: home and plan → home page and timeline', () => {
    const homes = samples('home');
    expect(homes.length).toBe(2);
    homes.forEach((h) => {
      const home = views.homeModel(h);
      expect(home.hasPlan).toBe(!!h.plan);
      if (h.plan && h.plan.current_stage) expect(home.stage.name).toBe(h.plan.current_stage.name);
      expect(typeof home.unread).toBe('number');
      expect(Array.isArray(home.readings)).toBe(true);
    });
    samples('plan').forEach((plan) => {
      expect(views.timelineModel(plan).stages.length).toBe(plan.stages.length);
    });
    expect(views.homeModel({}).appointment).toBeNull(); // section not shared
    // A pathway proposal the case manager has not accepted is never the next appointment.
    const upcoming = samples('appointments')[0];
    const proposed = Object.assign({}, upcoming.items[0], { id: 'proposal', status: 'proposed' });
    proposed.starts_at = new Date(Date.now() + 3600000).toISOString();
    expect(views.nextAppointment({ items: [proposed] })).toBeNull();
    expect(views.homeModel({ next_appointment: proposed }).appointment).toBeNull();
  });

  test('responses: messages, sent message, read receipt, thread → chat', () => {
    samples('messages').forEach((page) => {
      const items = views.messageItems(page.items, 'x');
      expect(Array.isArray(items)).toBe(true);
    });
    samples('sendMessage').forEach((m) => {
      const merged = views.mergeMessages([{ client_msg_id: m.client_msg_id, text: 'local' }], [m]);
      expect(merged.filter((x) => x.seq === m.seq)).toHaveLength(1);
    });
    samples('thread').forEach((t) => expect(typeof views.readByStaff(t, 1)).toBe('boolean'));
    expect(samples('readThread').length).toBe(2);
  });

  test('responses: education feed and article detail', () => {
    samples('educationFeed').forEach((f) => expect(views.educationItems(f).length).toBe(f.items.length));
    samples('educationOpen').forEach((d) => expect(typeof d.html).toBe('string'));
    samples('article').forEach((d) => expect(typeof d.html).toBe('string'));
  });

  test('responses: family members and invitations; an issued invitation carries code and scene', () => {
    const ms = samples('familyMembers');
    const inv = samples('invitations');
    ms.forEach((m, i) => expect(views.familyModel(m, inv[i]).members.length).toBeLessThanOrEqual(m.items.length));
    samples('invite').forEach((iss) => { expect(iss.code).toBeTruthy(); expect(iss.scene).toBeTruthy(); });
    samples('acceptInvitation').forEach((a) => expect(a.patient_id).toBeTruthy());
    samples('myConsents').forEach((c) => expect(typeof c.privacy_policy.accepted).toBe('boolean'));
  });

  test('realtime: the spec names the subprotocol the client offers, and its events are handled', () => {
    const ws = doc.paths['/api/v1/ws'].get;
    expect(ws.description).toContain('carepath.v1');
    expect(ws.description).toContain('bearer.');
    const { RealtimeClient } = require('../utils/ws');
    const got = [];
    const c = new RealtimeClient({ url: 'x', connect: () => ({}), getToken: () => 't', fetchAfter: () => null, onEvent: (e) => got.push(e) });
    c.subs.p = 0;
    const schema = doc.components.schemas.RealtimeEvent;
    schema.properties.type.enum.forEach((type) => {
      const evt = sample(doc, schema, true);
      evt.type = type;
      evt.patient_id = 'p';
      if (evt.message) { evt.message.patient_id = 'p'; evt.message.seq = got.length + 1; }
      expect(S.check(schema, evt)).toEqual([]);
      c.handle(JSON.stringify(evt));
    });
    expect(got.some((e) => e.type === 'message')).toBe(true);
  });

  test('responses: trends and report results (when the observations spec is available)', () => {
    samples('trend').forEach((t) => {
      const m = chart.computeModel(t, { width: 320, height: 220 });
      expect(m.series.length).toBe(t.series.length);
      expect(typeof views.latestReading(t)).toBe('string');
    });
    samples('reportObservation').forEach((r) => expect(Array.isArray(views.guidanceView(r))).toBe(true));
    expect(views.latestReading(RESPONSES.trend)).toMatch(/^最近一次：142\/90 mmHg/);
  });
});
