const chart = require('../utils/chart');
const { installWx, json, apiError, freshModules } = require('./helpers/wx');

const trend = {
  patient_id: 'p1', type: 'blood_pressure', range: '7d', time_zone: 'Asia/Shanghai', from: '2026-11-17', to: '2026-11-23', latest: null,
  series: [
    { name: 'systolic', label: '收缩压', code: '8480-6', unit: 'mm[Hg]', target: { low: 90, high: 140 },
      points: [{ day: '2026-11-23', min: 130, max: 150, mean: 140, count: 2 }, { day: '2026-11-17', min: 120, max: 120, mean: 120, count: 1 }] },
    { name: 'diastolic', label: '舒张压', code: '8462-4', unit: 'mm[Hg]', points: [{ day: '2026-11-17', min: 80, max: 80, mean: 80, count: 1 }] }
  ]
};

describe('trend chart model', () => {
  test('bands span min..max, the line follows the mean, days map left to right', () => {
    const m = chart.computeModel(trend, { width: 300, height: 200 });
    const sys = m.series[0];
    expect(sys.line.map((p) => p.day)).toEqual(['2026-11-17', '2026-11-23']);
    expect(sys.line[0].x).toBe(m.pad.left);
    expect(sys.line[1].x).toBe(300 - m.pad.right);
    expect(sys.bands[1].yMax).toBeLessThan(sys.bands[1].yMin); // max is higher on screen
    expect(sys.line[1].y).toBeGreaterThan(sys.bands[1].yMax);
    expect(sys.line[1].y).toBeLessThan(sys.bands[1].yMin);
    expect(m.yMin).toBeLessThanOrEqual(80);
    expect(m.yMax).toBeGreaterThanOrEqual(150);
    expect(sys.target).not.toBeNull();
    expect(m.empty).toBe(false);
    expect(m.xLabels[0].label).toBe('11/17');
  });

  test('empty trend draws an empty frame', () => {
    const m = chart.computeModel({ ...trend, series: [] }, { width: 300, height: 200 });
    expect(m.empty).toBe(true);
  });

  test('draw paints on a canvas 2D context', () => {
    const calls = [];
    const ctx = new Proxy({}, { get: (t, k) => (k in t ? t[k] : (...a) => calls.push(k)), set: (t, k, v) => { t[k] = v; return true; } });
    chart.draw(ctx, chart.computeModel(trend, { width: 300, height: 200 }));
    expect(calls).toEqual(expect.arrayContaining(['fillRect', 'lineTo', 'arc', 'fillText']));
  });
});

describe('subscribe-message helper', () => {
  test('asks for at most 3 configured templates and reports the answers; a missing route is fine', async () => {
    const wx = installWx();
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 3600000, refreshExpiresAt: Date.now() + 1e9 });
    jest.resetModules();
    const config = require('../config');
    Object.assign(config.templates, { cm_message: 'T1', appointment_reminder: 'T2', reading_attention: 'T3', questionnaire_due: 'T4' });
    const { api } = { api: require('../utils/api') };
    const subscribe = require('../utils/subscribe');
    let asked;
    wx.requestSubscribeMessage = (o) => { asked = o.tmplIds; o.success({ errMsg: 'ok', T1: 'accept', T2: 'reject', T3: 'ban' }); };
    wx._handler = () => json(200, { subscriptions: [] });
    const r = await subscribe.ask(api, ['cm_message', 'appointment_reminder', 'reading_attention', 'questionnaire_due', 'education_ready']);
    expect(asked).toEqual(['T1', 'T2', 'T3']);
    expect(r).toEqual([
      { kind: 'cm_message', template_id: 'T1', result: 'accept' },
      { kind: 'appointment_reminder', template_id: 'T2', result: 'reject' },
      { kind: 'reading_attention', template_id: 'T3', result: 'ban' }
    ]);
    // The server is told template ids and answers only; kinds stay on the phone.
    expect(wx._calls[0].data).toEqual({ results: r.map(({ template_id, result }) => ({ template_id, result })) });
    expect(wx._calls[0].header['Idempotency-Key']).toMatch(/^sub-[A-Za-z0-9_.:-]{1,60}$/);
  });

  test('nothing configured: nothing asked', async () => {
    installWx();
    jest.resetModules();
    const subscribe = require('../utils/subscribe');
    await expect(subscribe.ask({}, ['cm_message'])).resolves.toEqual([]);
  });
});
