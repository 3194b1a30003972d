/**
 * @jest-environment jsdom
 */
// Page flows rendered with miniprogram-simulate against a fake server that speaks only the
// API contract (test/helpers/server.js): appointments, questionnaires, notifications, data
// export and account deactivation.
const { installWx } = require('./helpers/wx');
const { loadPage, text, simulate } = require('./helpers/page');
const { specServer } = require('./helpers/server');
const R = require('./fixtures/responses');

function setup(overrides) {
  const server = specServer(overrides);
  const wx = installWx(server.handler);
  wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 3600000, refreshExpiresAt: Date.now() + 1e9, userId: 'u1' });
  jest.resetModules();
  wx.showToast = jest.fn(); wx.showModal = jest.fn(); wx.switchTab = jest.fn(); wx.navigateTo = jest.fn(); wx.reLaunch = jest.fn();
  wx.setNavigationBarTitle = jest.fn(); wx.stopPullDownRefresh = jest.fn();
  return { wx, server };
}
const app = { ready: () => Promise.resolve(R.me), flushReadings: () => Promise.resolve(), endSession: jest.fn() };
const settle = async () => { for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0)); await simulate.sleep(0); };

afterEach(() => { app.endSession.mockClear(); });

describe('appointments page', () => {
  test('lists upcoming appointments with place and preparation; confirm is sent for the right one', async () => {
    const { server } = setup();
    const { comp, page } = loadPage('pages/appointments/appointments', app, R.me);
    page.onShow();
    await settle();
    const t = text(comp);
    expect(t).toContain('术后复诊');
    expect(t).toContain('骨科 · 门诊楼三楼 骨科诊区');
    expect(t).toContain('就诊准备：请带上出院小结和医保卡');
    expect(t).toContain('待确认');
    expect(t).toContain('已确认');
    expect(server.calls('appointments')[0].url).toContain('when=upcoming');
    // only the scheduled one offers 我会按时到
    expect(comp.querySelectorAll('.appt')[0].dom.textContent).toContain('我会按时到');
    expect(comp.querySelectorAll('.appt')[1].dom.textContent).not.toContain('我会按时到');
    await page.confirm({ currentTarget: { dataset: { id: 'ap1' } } });
    expect(server.calls('appointmentConfirm').map((c) => c.path)).toEqual(['/api/v1/patients/p1/appointments/ap1/confirm']);
    expect(server.problems).toEqual([]);
  });

  test('cancel needs a reason; with one it is sent', async () => {
    const { wx, server } = setup();
    const { page } = loadPage('pages/appointments/appointments', app, R.me);
    page.onShow();
    await settle();
    page.cancel({ currentTarget: { dataset: { id: 'ap1' } } });
    expect(wx.showModal.mock.calls[0][0].editable).toBe(true);
    wx.showModal.mock.calls[0][0].success({ confirm: true, content: '   ' });
    await settle();
    expect(server.calls('appointmentCancel')).toHaveLength(0);
    expect(wx.showModal.mock.calls[1][0].content).toContain('请写下取消的原因');
    page.cancel({ currentTarget: { dataset: { id: 'ap1' } } });
    wx.showModal.mock.calls[2][0].success({ confirm: true, content: '身体不适' });
    await settle();
    expect(server.calls('appointmentCancel').map((c) => c.data)).toEqual([{ reason: '身体不适' }]);
    expect(server.problems).toEqual([]);
  });

  test('reschedule request: incomplete times are explained; 1–3 preferred times go as RFC 3339 with the note', async () => {
    const { server } = setup();
    const { comp, page } = loadPage('pages/appointments/appointments', app, R.me);
    page.onShow();
    await settle();
    page.openReschedule({ currentTarget: { dataset: { id: 'ap1' } } });
    await settle();
    expect(text(comp)).toContain('您方便的时间（最多 3 个）');
    page.submitReschedule();
    await settle();
    expect(text(comp)).toContain('请至少选择一个方便的时间');
    page.onSlotDay({ currentTarget: { dataset: { i: 0 } }, detail: { value: '2099-12-12' } });
    page.submitReschedule();
    await settle();
    expect(text(comp)).toContain('每个期望时间都要选好日期和时间');
    page.onSlotTime({ currentTarget: { dataset: { i: 0 } }, detail: { value: '09:30' } });
    page.addSlot(); page.addSlot(); page.addSlot();
    expect(page.data.reschedule.slots).toHaveLength(3);
    page.onSlotDay({ currentTarget: { dataset: { i: 1 } }, detail: { value: '2099-12-13' } });
    page.onSlotTime({ currentTarget: { dataset: { i: 1 } }, detail: { value: '14:00' } });
    page.onNote({ detail: { value: '那天要出差' } });
    await page.submitReschedule();
    await settle();
    expect(server.calls('appointmentReschedule').map((c) => c.data)).toEqual([
      { preferred_times: ['2099-12-12T09:30:00+08:00', '2099-12-13T14:00:00+08:00'], note: '那天要出差' }
    ]);
    expect(page.data.reschedule).toBeNull();
    expect(server.problems).toEqual([]);
  });

  test('Idempotency-Key: a retry of the same action after no answer reuses it; a new action gets a new one', async () => {
    let down = true;
    let status = 0; // 0 = network failure, else the status the server answers with
    const answer = () => (down ? (status ? { statusCode: status, data: { error: { code: 'x', message: '服务暂时不可用' } } } : { fail: 'timeout' }) : undefined);
    const { wx, server } = setup({ appointmentConfirm: answer, appointmentCancel: answer });
    const { page } = loadPage('pages/appointments/appointments', app, R.me);
    page.onShow();
    await settle();
    const keys = (name) => server.calls(name).map((c) => c.header['Idempotency-Key']);
    const tap = { currentTarget: { dataset: { id: 'ap1' } } };

    // confirm: network failure, then 503, then success — one action, one key
    await page.confirm(tap);
    status = 503;
    await page.confirm(tap);
    down = false;
    await page.confirm(tap);
    expect(keys('appointmentConfirm')).toHaveLength(3);
    expect(new Set(keys('appointmentConfirm')).size).toBe(1);
    // the same button later is a new action
    await page.confirm(tap);
    expect(keys('appointmentConfirm')[3]).not.toBe(keys('appointmentConfirm')[0]);
    // ...and so is another appointment
    await page.confirm({ currentTarget: { dataset: { id: 'ap2' } } });
    expect(new Set(keys('appointmentConfirm')).size).toBe(3);

    // cancel: a retry with the same reason keeps the key; a changed reason is a new action;
    // a 4xx answer ends the action
    down = true; status = 0;
    let pg = page;
    const cancel = async (reason) => {
      pg.cancel(tap);
      wx.showModal.mock.calls[wx.showModal.mock.calls.length - 1][0].success({ confirm: true, content: reason });
      await settle();
    };
    await cancel('身体不适');
    await cancel('身体不适');
    await cancel('要出差');
    status = 422;
    await cancel('要出差');
    await cancel('要出差');
    const k = keys('appointmentCancel');
    expect(k).toHaveLength(5);
    expect(k[1]).toBe(k[0]);
    expect(k[2]).not.toBe(k[0]);
    expect(k[3]).toBe(k[2]);
    expect(k[4]).not.toBe(k[3]);
    // an unanswered action survives the app being closed: the reopened page resends its key
    status = 0;
    await cancel('改天再去');
    jest.resetModules();
    pg = loadPage('pages/appointments/appointments', app, R.me).page;
    pg.onShow();
    await settle();
    down = false;
    await cancel('改天再去');
    const k2 = keys('appointmentCancel');
    expect(k2).toHaveLength(7);
    expect(k2[6]).toBe(k2[5]);
    expect(k2[5]).not.toBe(k[4]);
    expect(JSON.parse(wx._store['cp.idem'])).toEqual({}); // answered: nothing left open
    expect(server.problems).toEqual([]);
  });
});

describe('questionnaire pages', () => {
  test('the list shows pending first and the result of answered ones', async () => {
    const { server } = setup();
    const { comp, page } = loadPage('pages/questionnaires/questionnaires', app, R.me);
    page.onShow();
    await settle();
    expect(comp.querySelectorAll('.q-pending')).toHaveLength(1);
    expect(text(comp)).toContain('结果：功能良好');
    page.open({ currentTarget: { dataset: { id: 'qa1' } } });
    expect(global.wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/questionnaires/answer?id=qa1' });
    expect(server.problems).toEqual([]);
  });

  test('answering: required questions are checked, the answers go once with one Idempotency-Key kept across a retry', async () => {
    let fail = true;
    const { wx, server } = setup({
      questionnaireAnswer: () => (fail ? { fail: 'timeout' } : R.questionnaireAnswer)
    });
    const { comp, page } = loadPage('pages/questionnaires/answer', app, R.me);
    page.onLoad({ id: 'qa1' });
    await settle();
    expect(comp.querySelectorAll('.question')).toHaveLength(5);
    expect(comp.querySelectorAll('.step')).toHaveLength(11); // scale 0–10
    await page.submit();
    await settle();
    expect(text(comp)).toContain('还有 2 题需要补充');
    expect(comp.querySelectorAll('.has-error')).toHaveLength(2);
    expect(server.calls('questionnaireAnswer')).toHaveLength(0);
    comp.querySelectorAll('.choice')[1].dispatchEvent('tap'); // 轻微困难
    await simulate.sleep(0);
    comp.querySelectorAll('.step')[3].dispatchEvent('tap'); // 3
    await simulate.sleep(0);
    page.toggle({ currentTarget: { dataset: { key: 'aids', value: 'cane' } } });
    page.onNumber({ currentTarget: { dataset: { key: 'walk_minutes' } }, detail: { value: '30' } });
    await page.submit(); // the network drops this one
    await settle();
    expect(wx._store['cp.qkey.qa1']).toBeDefined(); // the key is kept for the retry
    fail = false;
    await page.submit();
    await settle();
    const sent = server.calls('questionnaireAnswer');
    expect(sent).toHaveLength(2);
    expect(sent[0].data).toEqual({ answers: { walk_flat: '1', aids: ['cane'], pain_now: 3, walk_minutes: 30 } });
    expect(sent[1].data).toEqual(sent[0].data);
    expect(sent[0].header['Idempotency-Key']).toMatch(/^q-/);
    expect(sent[1].header['Idempotency-Key']).toBe(sent[0].header['Idempotency-Key']);
    expect(wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '已提交，谢谢' }));
    expect(wx._store['cp.qkey.qa1']).toBeUndefined(); // forgotten once it succeeded
    expect(server.problems).toEqual([]);
  });
});

describe('notifications centre', () => {
  test('unread marks, opening one marks it read and goes to its page; all read', async () => {
    const { wx, server } = setup();
    const { comp, page } = loadPage('pages/notifications/notifications', app, R.me);
    page.onShow();
    await settle();
    expect(text(comp)).toContain('1 条未读');
    expect(comp.querySelectorAll('.unread')).toHaveLength(1);
    page.open({ currentTarget: { dataset: { id: 'n2' } } });
    await settle();
    expect(server.calls('notificationsRead').map((c) => c.data)).toEqual([{ ids: ['n2'] }]);
    expect(wx.navigateTo).toHaveBeenCalledWith({ url: '/pages/appointments/appointments?patient=p1' });
    expect(comp.querySelectorAll('.unread')).toHaveLength(0);
    page.open({ currentTarget: { dataset: { id: 'n1' } } }); // chat is a tab: switchTab, record kept
    expect(wx.switchTab).toHaveBeenCalledWith({ url: '/pages/chat/chat' });
    expect(JSON.parse(wx._store['cp.selectedPatient'])).toBe('p1');
    await page.readAll();
    expect(server.calls('notificationsRead').map((c) => c.data)[1]).toEqual({});
    expect(server.problems).toEqual([]);
  });
});

describe('profile: data export', () => {
  test('shows the summary and retention notice; the FHIR file is saved under its dated name and shared on tap', async () => {
    const { wx, server } = setup();
    const copies = [];
    wx.env = { USER_DATA_PATH: 'wxfile://usr' };
    wx.downloadFile = (o) => { server.seen.push({ name: 'exportFhir', url: o.url, header: o.header }); Promise.resolve().then(() => o.success({ statusCode: 200, tempFilePath: 'wxfile://tmp/x' })); };
    wx.getFileSystemManager = () => ({ unlinkSync: () => { throw new Error('none'); }, copyFileSync: (a, b) => copies.push([a, b]) });
    wx.shareFileMessage = jest.fn();
    const { comp, page } = loadPage('pages/profile/export', app, R.me);
    page.onShow();
    await settle();
    const t = text(comp);
    expect(t).toContain('我的健康数据副本');
    expect(t).toContain('居家测量');
    expect(t).toContain('血压 12 次');
    expect(t).toContain('临床记录仍按医院病历管理规定保存');
    expect(server.calls('exportSummary')[0].path).toBe('/api/v1/patients/p1/export/summary');
    await page.prepare();
    await settle();
    expect(server.calls('exportFhir')[0].url).toMatch(/\/api\/v1\/patients\/p1\/export$/);
    expect(server.calls('exportFhir')[0].header.Authorization).toBe('Bearer a');
    expect(copies[0][1]).toMatch(/^wxfile:\/\/usr\/carepath-export-\d{8}\.json$/);
    page.share();
    expect(wx.shareFileMessage.mock.calls[0][0]).toMatchObject({ filePath: copies[0][1], fileName: copies[0][1].split('/').pop() });
    expect(server.problems).toEqual([]);
  });

  test('a relative (no own record) is told only the patient can export; nothing is requested', async () => {
    const { server } = setup();
    const { comp, page } = loadPage('pages/profile/export', { ready: () => Promise.resolve(Object.assign({}, R.me, { patient: null })) }, R.me);
    page.onShow();
    await settle();
    expect(text(comp)).toContain('只有患者本人可以导出');
    expect(server.seen).toEqual([]);
  });
});

describe('profile: account deactivation', () => {
  test('explains what is kept, needs the typed word, confirms, then ends the local session', async () => {
    const { wx, server } = setup();
    const { comp, page } = loadPage('pages/profile/deactivate', app, R.me);
    page.onShow();
    await settle();
    const t = text(comp);
    expect(t).toContain('医院会保留的内容');
    expect(t).toContain('家人之间的关联');
    page.onTyped({ detail: { value: '确认' } });
    page.submit();
    await settle();
    expect(text(comp)).toContain('请在输入框中输入“注销”两个字');
    expect(wx.showModal).not.toHaveBeenCalled();
    page.onTyped({ detail: { value: '注销' } });
    page.onReason({ detail: { value: '不再需要' } });
    page.submit();
    wx.showModal.mock.calls[0][0].success({ confirm: true });
    await settle();
    expect(server.calls('deactivate').map((c) => c.data)).toEqual([{ confirm: '注销', reason: '不再需要' }]);
    const done = wx.showModal.mock.calls[1][0];
    expect(done.content).toBe(R.deactivate.records_retained_notice);
    expect(app.endSession).not.toHaveBeenCalled();
    done.complete();
    expect(app.endSession).toHaveBeenCalled();
    expect(server.problems).toEqual([]);
  });

  test('a refusal from the server is shown with its message and nothing is cleared', async () => {
    const { wx, server } = setup({ deactivate: { statusCode: 409, data: { error: { code: 'account_deactivated', message: '账号已注销' } } } });
    const { page } = loadPage('pages/profile/deactivate', app, R.me);
    page.onTyped({ detail: { value: '注销' } });
    page.submit();
    wx.showModal.mock.calls[0][0].success({ confirm: true });
    await settle();
    expect(wx.showModal.mock.calls[1][0]).toMatchObject({ title: '注销失败', content: '账号已注销' });
    expect(page.data.busy).toBe(false);
    expect(app.endSession).not.toHaveBeenCalled();
    expect(server.problems).toEqual([]);
  });
});

describe('trends page', () => {
  test('the latest reading in words and the legend; switching the range asks for it', async () => {
    const { wx, server } = setup();
    wx.createSelectorQuery = () => { const q = { in: () => q, select: () => q, fields: () => q, exec: (cb) => cb([null]) }; return q; };
    const { comp, page } = loadPage('pages/trends/trends', app, R.me);
    page.onLoad({ patient: 'p1' });
    page.onReady();
    await settle();
    const t = text(comp);
    expect(t).toContain('最近一次：142/90 mmHg');
    expect(t).toContain('收缩压（mmHg）');
    expect(t).toContain('舒张压（mmHg）');
    page.onRange({ currentTarget: { dataset: { key: '7d' } } });
    await settle();
    expect(server.calls('trend').map((c) => c.url.split('?')[1])).toEqual(['range=30d', 'range=7d']);
    expect(server.calls('trend')[0].path).toBe('/api/v1/patients/p1/trends/blood_pressure');
    expect(wx.showModal).not.toHaveBeenCalled();
    expect(server.problems).toEqual([]);
  });
});

describe('family page', () => {
  test('an invitation shows its code and a QR code that decodes to it; the accept page reads that scan', async () => {
    const jsQR = require('jsqr');
    const S = require('./helpers/openapi');
    const { sample } = require('./helpers/schema');
    const code = 'KQ2ZX7MBWD3RT5YHNP4LC6VJSA';
    const issued = Object.assign(sample(S.main, S.main.components.schemas.IssuedInvitation, true), { code, scene: code, page: 'pages/family/accept', path: 'pages/family/accept?code=' + code });
    const { wx, server } = setup({ invite: issued });
    let raster = null;
    wx.getWindowInfo = () => ({ pixelRatio: 2 });
    wx.createSelectorQuery = () => {
      const q = {
        in: () => q, select: () => q, fields: () => q,
        exec: (cb) => cb([{ width: 240, height: 240, node: { getContext: () => { raster = rasterCtx(480); return raster.ctx; } } }])
      };
      return q;
    };
    const { comp, page } = loadPage('pages/family/family', app, R.me);
    page.onShow();
    await settle();
    page.onRel({ currentTarget: { dataset: { v: '女儿' } } });
    page.invite();
    await settle();
    expect(server.calls('invite')[0].data).toMatchObject({ relationship: '女儿' });
    expect(text(comp)).toContain('KQ2Z X7MB WD3R T5YH NP4L C6VJ SA');
    expect(raster).not.toBeNull();
    const got = jsQR(raster.data, 480, 480);
    expect(got && got.data).toBe('CAREPATH-INVITE:' + code);
    expect(server.problems).toEqual([]);

    // the relative's phone: the accept page's 扫码 button gets that text
    const rel = setup();
    rel.wx.scanCode = (o) => o.success({ result: got.data });
    const acc = loadPage('pages/family/accept', app, R.me);
    acc.page.onLoad({});
    acc.page.scan();
    await settle();
    expect(acc.page.data.code).toBe(code);
    expect(rel.server.calls('previewInvitation')[0].path).toBe('/api/v1/family/invitations/' + code);
    expect(rel.server.problems).toEqual([]);
  });
});

function rasterCtx(px) {
  const data = new Uint8ClampedArray(px * px * 4);
  const ctx = {
    fillStyle: '#000000',
    fillRect(x, y, w, h) {
      const v = ctx.fillStyle === '#ffffff' ? 255 : 0;
      for (let j = y; j < Math.min(px, y + h); j++) for (let i = x; i < Math.min(px, x + w); i++) {
        const k = (j * px + i) * 4; data[k] = data[k + 1] = data[k + 2] = v; data[k + 3] = 255;
      }
    }
  };
  return { ctx, data };
}
