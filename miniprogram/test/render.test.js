/**
 * @jest-environment jsdom
 */
// Rendering tests of real pages with miniprogram-simulate (pure-JS WXML compiler).
const { installWx, json, apiError } = require('./helpers/wx');
const { loadPage, text, simulate } = require('./helpers/page');
const { specServer } = require('./helpers/server');
const R = require('./fixtures/responses');
const S = require('./helpers/openapi');
const { sample } = require('./helpers/schema');

const ME = {
  kind: 'user', role: 'user', user: { id: 'u1', phone_bound: true, phone_masked: '138****0001' },
  patient: { id: 'p1', name: '张国强', gender: 'M', hospital_id: 'h', department_id: 'd', risk_level: 'low', status: 'active', linked: true, created_at: '2026-11-01T00:00:00Z' },
  relatives: [{ patient_id: 'p2', name: '李*华', relationship: '母亲', scopes: ['view_plan'] }]
};

function setup(handler) {
  const wx = installWx(handler);
  wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 3600000, refreshExpiresAt: Date.now() + 1e9 });
  jest.resetModules();
  wx.showToast = jest.fn(); wx.showModal = jest.fn(); wx.switchTab = jest.fn(); wx.navigateTo = jest.fn();
  return wx;
}
const app = { ready: () => Promise.resolve(ME), flushReadings: () => Promise.resolve() };
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('report page', () => {
  test('the pain face scale selects a score and names it; missing context is explained', async () => {
    setup();
    const { comp, page } = loadPage('pages/report/report', app, ME);
    page.onShow();
    await tick();
    page.onType({ currentTarget: { dataset: { key: 'pain' } } });
    await simulate.sleep(0);
    expect(text(comp)).toContain('现在有多痛');
    const faces = comp.querySelectorAll('.face');
    expect(faces).toHaveLength(11);
    faces[4].dispatchEvent('tap');
    await simulate.sleep(0);
    expect(page.data.form.score).toBe(4);
    expect(text(comp)).toContain('4 分 · 中度');
    page.submit();
    await simulate.sleep(0);
    expect(text(comp)).toContain('请选择是休息时还是活动时的疼痛');
  });

  test('blood pressure with systolic below diastolic shows the error and sends nothing', async () => {
    const wx = setup();
    const { comp, page } = loadPage('pages/report/report', app, ME);
    page.onShow();
    await tick();
    page.setData({ form: Object.assign({}, page.data.form, { systolic: '80', diastolic: '90' }) });
    page.submit();
    await simulate.sleep(0);
    expect(text(comp)).toContain('高压应大于低压');
    expect(wx._calls).toHaveLength(0);
  });

  test('a valid reading is queued with its id and sent; the urgent guidance is shown', async () => {
    const server = specServer({
      reportBatch: (c) => ({ accepted: 1, rejected: 0, results: c.data.items.map((it, i) => ({ index: i, id: it.id, status: 201, result: R.reportObservation })) })
    });
    const wx = setup(server.handler);
    const { comp, page } = loadPage('pages/report/report', app, ME);
    page.onShow();
    await tick();
    page.setData({ form: Object.assign({}, page.data.form, { systolic: '185', diastolic: '115' }) });
    page.submit();
    await new Promise((r) => setTimeout(r, 20));
    await simulate.sleep(0);
    const sent = wx._calls.find((c) => c.url.endsWith('/observations/batch'));
    expect(sent.data.items[0]).toMatchObject({ type: 'blood_pressure', systolic: 185, diastolic: 115 });
    expect(sent.data.items[0].id).toMatch(/^r-/);
    expect(text(comp)).toContain('血压很高，请立即处理');
    expect(text(comp)).toContain('拨打 急救 120');
    expect(wx.showModal).toHaveBeenCalled();
    expect(server.problems).toEqual([]);
  });
});

describe('home page', () => {
  test('stage card, next task, unread count, next appointment and the relative switcher render from API data', async () => {
    const soon = new Date(Date.now() + 3 * 86400000).toISOString().replace(/\.\d+Z$/, 'Z');
    const server = specServer({
      home: { patient_id: 'p1', plan: Object.assign(sample(S.main, S.main.components.schemas.Plan, false), { // required fields the page ignores
        id: 'pl1', patient_id: 'p1', status: 'active', pathway: { key: 'tka', name: '膝关节置换', version: 1 },
        current_stage: { key: 's3', name: '术后康复', phase: 'post_discharge', starts_on: '2026-11-20', state: 'current', entered_at: '2026-11-20T00:00:00Z', day: 2 },
        progress: { tasks_total: 10, tasks_done: 4, percent: 40, stage_number: 3, stage_count: 5 },
        next_tasks: [{ id: 't1', key: 'k', stage: 's3', kind: 'task', title: '做踝泵运动', owner: 'patient', due_on: null, status: 'unscheduled' }],
        case_manager: { id: 'c1', name: '王护士', contact: '工作日 8:00-17:00' }, stages: [], tasks: []
      }),
      unread_messages: 2,
      unread_education: 1,
      next_appointment: R.appointment({ starts_at: soon, ends_at: soon }),
      latest_readings: [{ id: 'o1', patient_id: 'p1', type: 'blood_pressure', code: { system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure' },
        measured_at: '2026-11-23T01:00:00Z', received_at: '2026-11-23T01:00:01Z', local_day: '2026-11-23',
        components: [{ name: 'systolic', code: '8480-6', value: 132, unit: 'mm[Hg]' }, { name: 'diastolic', code: '8462-4', value: 84, unit: 'mm[Hg]' }],
        source: { kind: 'manual' } }] }
    });
    const wx = setup(server.handler);
    const { comp, page } = loadPage('pages/home/home', app, ME);
    await page.refresh();
    await simulate.sleep(0);
    const t = text(comp);
    expect(t).toContain('张国强（本人）');
    expect(t).toContain('术后康复');
    expect(t).toContain('院后');
    expect(t).toContain('做踝泵运动');
    expect(t).toMatch(/2\s*条新消息/);
    expect(t).toContain('上报今天的身体情况');
    expect(t).toContain('术后复诊');
    expect(t).toContain('待确认，点这里确认');
    expect(t).toContain('132/84 mmHg');
    expect(server.calls('home')).toHaveLength(1);
    expect(wx._calls).toHaveLength(1); // one request for the whole screen
    expect(server.problems).toEqual([]);
  });
});

describe('chat page', () => {
  test('own and staff messages, recalled text and the read mark', async () => {
    setup();
    const { comp, page } = loadPage('pages/chat/chat', app, ME);
    page.myUserId = 'u1';
    page.thread = { participants: [{ kind: 'staff', id: 's1', role: 'cm', last_read_seq: 2 }] };
    page.raw = [
      { id: 'm1', patient_id: 'p1', seq: 1, kind: 'text', text: '今天伤口有点痒', sender: { kind: 'user', id: 'u1', role: 'patient' }, internal: false, recalled: false, created_at: '2026-11-23T01:00:00Z' },
      { id: 'm2', patient_id: 'p1', seq: 2, kind: 'text', text: '发错了', sender: { kind: 'user', id: 'u1', role: 'patient' }, internal: false, recalled: false, created_at: '2026-11-23T01:01:00Z' },
      { id: 'm3', patient_id: 'p1', seq: 3, kind: 'recall', ref_id: 'm2', sender: { kind: 'user', id: 'u1', role: 'patient' }, internal: false, recalled: false, created_at: '2026-11-23T01:02:00Z' },
      { id: 'm4', patient_id: 'p1', seq: 4, kind: 'text', text: '请拍张照片发给我', sender: { kind: 'staff', id: 's1', role: 'cm', display_name: '王护士' }, internal: false, recalled: false, created_at: '2026-11-23T01:03:00Z' }
    ];
    page.render(false);
    await simulate.sleep(0);
    const t = text(comp);
    expect(t).toContain('今天伤口有点痒');
    expect(t).toContain('你撤回了一条消息');
    expect(t).not.toContain('发错了');
    expect(t).toContain('王护士');
    expect(comp.querySelectorAll('.mine .bubble').length).toBe(1);
    expect(comp.querySelectorAll('.theirs .bubble').length).toBe(1);
    expect(t).toContain('已读');
  });
});
