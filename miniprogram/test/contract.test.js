// Contract test: the API client against api/openapi.yaml (the repository's spec, which CI
// checks out next to miniprogram/).
//   1. every route the client declares (utils/endpoints.js) exists in the spec with that
//      method, unless it is marked pending (its branch has not merged yet);
//   2. every request body the client builds (utils/requests.js) satisfies the request
//      schema, required fields included;
//   3. sample responses generated from the spec's response schemas — with every optional
//      field, and with only the required ones — are handled by the client's view models.
// CAREPATH_EXTRA_SPECS=/path/a.yaml:/path/b.yaml also checks pending routes against
// specs of unmerged branches (e.g. the observations branch) during development.
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const { validate, sample } = require('./helpers/schema');

const E = require('../utils/endpoints');
const B = require('../utils/requests');
const views = require('../utils/views');
const chart = require('../utils/chart');

const mainSpecPath = path.join(__dirname, '..', '..', 'api', 'openapi.yaml');
const specs = [mainSpecPath].concat((process.env.CAREPATH_EXTRA_SPECS || '').split(':').filter(Boolean))
  .map((p) => ({ file: p, doc: yaml.load(fs.readFileSync(p, 'utf8')) }));

function findOp(ep) {
  for (const s of specs) {
    const item = s.doc.paths && s.doc.paths[ep.path];
    if (item && item[ep.method.toLowerCase()]) return { doc: s.doc, item, op: item[ep.method.toLowerCase()], file: s.file };
  }
  return null;
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
  subscriptions: [[[{ kind: 'new_message', template_id: 'T1', result: 'accept' }]]],
  appointmentCancel: [['时间冲突'], []],
  appointmentReschedule: [['出差', ['2026-12-01', '2026-12-02']]],
  questionnaireAnswers: [[[{ question: 'q1', value: 3 }]]]
};

describe('contract: api/openapi.yaml', () => {
  test('the spec is there and parses', () => {
    expect(specs[0].doc.openapi).toMatch(/^3\./);
  });

  const names = Object.keys(E);
  test.each(names)('%s: route exists in the spec (or is marked pending)', (name) => {
    const ep = E[name];
    const found = findOp(ep);
    if (!found) {
      expect(ep.pending).toBeTruthy(); // a route missing from the spec must be a declared pending one
      return;
    }
    // path parameters in the template are declared by the spec
    const declared = []
      .concat(found.item.parameters || [], found.op.parameters || [])
      .map((p) => (p.$ref ? require('./helpers/schema').resolve(found.doc, p) : p))
      .filter((p) => p.in === 'path').map((p) => p.name).sort();
    const used = (ep.path.match(/\{(\w+)\}/g) || []).map((x) => x.slice(1, -1)).sort();
    expect(declared).toEqual(used);
    // login and refresh are the only calls without a bearer token; the spec agrees
    if (ep.auth === false) expect(found.op.security).toEqual([]);
    else expect(found.op.security === undefined || found.op.security.length > 0).toBe(true);
  });

  test('main spec: the non-pending routes are all in the repository spec', () => {
    const missing = names.filter((n) => !E[n].pending && !(specs[0].doc.paths[E[n].path] || {})[E[n].method.toLowerCase()]);
    expect(missing).toEqual([]);
  });

  const withBodies = names.filter((n) => E[n].body);
  test.each(withBodies)('%s: request bodies satisfy the request schema', (name) => {
    const ep = E[name];
    const builder = B[ep.body];
    expect(typeof builder).toBe('function');
    const found = findOp(ep);
    const argsList = SAMPLES[ep.body];
    expect(argsList).toBeDefined();
    argsList.forEach((args) => {
      const body = builder.apply(null, args);
      expect(body).toBeTruthy();
      if (!found) return; // pending route: checked once its spec lands
      const rb = found.op.requestBody;
      expect(rb).toBeDefined();
      const schema = rb.content['application/json'].schema;
      expect(validate(found.doc, schema, body)).toEqual([]);
    });
  });

  test('routes with a required body get one from the client', () => {
    names.forEach((name) => {
      const ep = E[name];
      const found = findOp(ep);
      if (!found || !found.op.requestBody || !found.op.requestBody.required) return;
      if (ep.upload) {
        const mp = found.op.requestBody.content['multipart/form-data'];
        expect(mp).toBeDefined();
        expect(ep.formData.slice().sort()).toEqual(mp.schema.required.slice().sort());
        return;
      }
      expect([name, !!ep.body]).toEqual([name, true]);
    });
  });

  test('the message image upload uses the spec multipart fields', () => {
    const found = findOp(E.sendImage);
    expect(found.op.requestBody.content['multipart/form-data'].schema.required.sort()).toEqual(['client_msg_id', 'file']);
  });

  function responseSchema(name) {
    const found = findOp(E[name]);
    if (!found) return null;
    const codes = Object.keys(found.op.responses).filter((c) => /^2/.test(c)).sort();
    const r = found.op.responses[codes[0]];
    const schema = r && r.content && r.content['application/json'] && r.content['application/json'].schema;
    return schema ? { doc: found.doc, schema } : null;
  }

  function samples(name) {
    const r = responseSchema(name);
    if (!r) return [];
    return [sample(r.doc, r.schema, true), sample(r.doc, r.schema, false)].map((s) => {
      expect(validate(r.doc, r.schema, s)).toEqual([]); // the generator itself is honest
      return s;
    });
  }

  test('error bodies from the spec are shown with the server message', () => {
    const doc = specs[0].doc;
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

  test('responses: plan, thread, education, appointments → home and timeline', () => {
    const plans = samples('plan');
    expect(plans.length).toBe(2);
    const threads = samples('thread');
    const feeds = samples('educationFeed');
    plans.forEach((plan, i) => {
      const home = views.homeModel({ plan, thread: threads[i], feed: feeds[i], appointments: samples('appointments')[i] || null });
      expect(home.hasPlan).toBe(true);
      expect(home.stage.name).toBe(plan.current_stage.name);
      expect(typeof home.unread).toBe('number');
      const tl = views.timelineModel(plan);
      expect(tl.stages.length).toBe(plan.stages.length);
    });
    expect(views.homeModel({}).appointment).toBeNull(); // appointments route absent
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
    const doc = specs[0].doc;
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
      expect(validate(doc, schema, evt)).toEqual([]);
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
  });
});
