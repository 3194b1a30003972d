const { installWx, json, apiError, tokenResponse, freshModules } = require('./helpers/wx');

function path(url) { return url.replace(/^https?:\/\/[^/]+/, '').split('?')[0]; }

describe('api client', () => {
  let wx, api;
  beforeEach(() => {
    wx = installWx();
    ({ api } = freshModules());
  });

  test('logs in with wx.login when there is no token, stores tokens and sends the bearer', async () => {
    wx._handler = (c) => {
      if (path(c.url) === '/api/v1/auth/wechat/login') return json(200, tokenResponse(1));
      if (path(c.url) === '/api/v1/me') return json(200, { kind: 'user', role: 'user', patient: null, relatives: [] });
    };
    const me = await api.request('me');
    expect(me.kind).toBe('user');
    expect(wx._calls[0].data).toEqual({ code: 'wxcode-1' });
    expect(wx._calls[0].header.Authorization).toBeUndefined();
    expect(wx._calls[1].header.Authorization).toBe('Bearer access-1');
    expect(api.tokens().refresh).toBe('refresh-1');
  });

  test('dev mode sends test-<name>~<timestamp> codes instead of wx.login codes', async () => {
    api.setDevUser('patient1');
    wx._handler = (c) => path(c.url) === '/api/v1/auth/wechat/login' ? json(200, tokenResponse(1)) : json(200, {});
    await api.request('me');
    expect(wx._calls[0].data.code).toMatch(/^test-patient1~\d+$/);
    expect(wx._loginCodes).toBe(0);
  });

  test('demo logins are ignored in a released build even if devMode was left on', async () => {
    api.setDevUser('patient1');
    wx.getAccountInfoSync = () => ({ miniProgram: { envVersion: 'release' } });
    wx._handler = (c) => path(c.url) === '/api/v1/auth/wechat/login' ? json(200, tokenResponse(1)) : json(200, {});
    await api.request('me');
    expect(wx._calls[0].data.code).toBe('wxcode-1');
  });

  test('a 401 refreshes once and retries with the new token', async () => {
    let n = 0;
    wx._handler = (c) => {
      const p = path(c.url);
      if (p === '/api/v1/auth/wechat/login') return json(200, tokenResponse(++n));
      if (p === '/api/v1/auth/refresh') return json(200, tokenResponse(++n));
      if (c.header.Authorization === 'Bearer access-1') return apiError(401, 'unauthorized');
      return json(200, { ok: c.header.Authorization });
    };
    const r = await api.request('me');
    expect(r.ok).toBe('Bearer access-2');
    const refreshes = wx._calls.filter((c) => path(c.url) === '/api/v1/auth/refresh');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0].data).toEqual({ refresh_token: 'refresh-1' });
  });

  test('concurrent 401s cause exactly one refresh (the server revokes a reused refresh token)', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'old', refresh: 'r-old', accessExpiresAt: Date.now() + 600000, refreshExpiresAt: Date.now() + 1e9 });
    let refreshCount = 0;
    const usedRefresh = [];
    wx._handler = (c) => {
      const p = path(c.url);
      if (p === '/api/v1/auth/refresh') {
        refreshCount++;
        usedRefresh.push(c.data.refresh_token);
        if (usedRefresh.filter((t) => t === c.data.refresh_token).length > 1) return apiError(401, 'refresh_reused');
        return new Promise((res) => setTimeout(() => res(json(200, tokenResponse(refreshCount))), 10));
      }
      if (c.header.Authorization === 'Bearer old') return apiError(401, 'token_expired');
      return json(200, { auth: c.header.Authorization });
    };
    const results = await Promise.all(Array.from({ length: 6 }, () => api.request('me')));
    expect(refreshCount).toBe(1);
    results.forEach((r) => expect(r.auth).toBe('Bearer access-1'));
  });

  test('an access token about to expire is refreshed before the call, once for parallel calls', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a0', refresh: 'r0', accessExpiresAt: Date.now() + 1000, refreshExpiresAt: Date.now() + 1e9 });
    wx._handler = (c) => path(c.url) === '/api/v1/auth/refresh' ? json(200, tokenResponse(7)) : json(200, { auth: c.header.Authorization });
    const rs = await Promise.all([api.request('me'), api.request('myConsents'), api.request('me')]);
    expect(wx._calls.filter((c) => path(c.url) === '/api/v1/auth/refresh')).toHaveLength(1);
    rs.forEach((r) => expect(r.auth).toBe('Bearer access-7'));
  });

  test('a rejected refresh token falls back to wx.login', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a0', refresh: 'r0', accessExpiresAt: Date.now() + 600000, refreshExpiresAt: Date.now() + 1e9 });
    wx._handler = (c) => {
      const p = path(c.url);
      if (p === '/api/v1/auth/refresh') return apiError(401, 'session_revoked');
      if (p === '/api/v1/auth/wechat/login') return json(200, tokenResponse(9));
      if (c.header.Authorization === 'Bearer a0') return apiError(401, 'unauthorized');
      return json(200, { auth: c.header.Authorization });
    };
    const r = await api.request('me');
    expect(r.auth).toBe('Bearer access-9');
    expect(wx._loginCodes).toBe(1);
  });

  test('server errors become ApiError with the server code and zh-CN message, shown in one place', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 600000, refreshExpiresAt: Date.now() + 1e9 });
    wx._handler = () => apiError(422, 'privacy_policy_required', '请先同意隐私政策');
    const err = await api.request('acceptInvitation', { params: { code: 'ABC' } }).catch((e) => e);
    expect(err.status).toBe(422);
    expect(err.code).toBe('privacy_policy_required');
    expect(api.showError(err)).toBe('请先同意隐私政策');
    expect(wx._lastModal.content).toBe('请先同意隐私政策');
    expect(api.messageFor({ status: 0, code: 'network_error' })).toMatch('网络');
    expect(api.messageFor({ name: 'ApiError', status: 503, message: 'x' })).toMatch('服务暂时不可用');
  });

  test('route_not_found is an error like any other 404 (every route is in the spec)', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 600000, refreshExpiresAt: Date.now() + 1e9 });
    wx._handler = (c) => /\/export\/summary$/.test(path(c.url))
      ? apiError(404, 'route_not_found', '请求的接口不存在')
      : apiError(404, 'not_found', '患者不存在');
    await expect(api.request('exportSummary', { params: { patientID: 'p1' } })).rejects.toMatchObject({ status: 404, code: 'route_not_found' });
    await expect(api.request('plan', { params: { patientID: 'p1' } })).rejects.toMatchObject({ code: 'not_found' });
  });

  test('an idempotent endpoint is refused without a valid Idempotency-Key, and the others never send one', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 600000, refreshExpiresAt: Date.now() + 1e9 });
    wx._handler = () => json(200, {});
    const params = { patientID: 'p1', appointmentID: 'ap1' };
    await expect(api.request('appointmentConfirm', { params })).rejects.toThrow('needs an Idempotency-Key');
    await expect(api.request('appointmentConfirm', { params, idempotencyKey: 'bad key!' })).rejects.toThrow('needs an Idempotency-Key');
    await expect(api.request('plan', { params: { patientID: 'p1' }, idempotencyKey: 'k-1' })).rejects.toThrow('takes no Idempotency-Key');
    expect(wx._calls).toHaveLength(0);
    await api.request('appointmentConfirm', { params, idempotencyKey: 'k-1' });
    expect(wx._calls[0].header['Idempotency-Key']).toBe('k-1');
  });

  test('a call outside the endpoint table, or with an undeclared query parameter, is refused before sending', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 600000, refreshExpiresAt: Date.now() + 1e9 });
    wx._handler = () => json(200, {});
    await expect(api.request('observations', { params: { patientID: 'p1' } })).rejects.toThrow('unknown endpoint');
    await expect(api.request('messages', { params: { patientID: 'p1' }, query: { since: 3 } })).rejects.toThrow('query parameter since');
    expect(wx._calls).toHaveLength(0);
  });

  test('download: the export file is fetched with the bearer token; an error body is shown', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 600000, refreshExpiresAt: Date.now() + 1e9 });
    const files = { '/tmp/ok': '{}', '/tmp/err': JSON.stringify({ error: { code: 'not_found', message: '患者不存在' } }) };
    const seen = [];
    let status = 200;
    wx.downloadFile = (o) => { seen.push(o); Promise.resolve().then(() => o.success({ statusCode: status, tempFilePath: status === 200 ? '/tmp/ok' : '/tmp/err' })); };
    wx.getFileSystemManager = () => ({ readFileSync: (p) => files[p] });
    await expect(api.download('exportFhir', { params: { patientID: 'p1' } })).resolves.toBe('/tmp/ok');
    expect(path(seen[0].url)).toBe('/api/v1/patients/p1/export');
    expect(seen[0].header.Authorization).toBe('Bearer a');
    status = 404;
    await expect(api.download('exportFhir', { params: { patientID: 'p1' } })).rejects.toMatchObject({ status: 404, message: '患者不存在' });
    await expect(api.download('me')).rejects.toThrow('not a download endpoint');
  });

  test('path parameters are encoded, query strings skip empty values, the Idempotency-Key header is sent', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 600000, refreshExpiresAt: Date.now() + 1e9 });
    wx._handler = () => json(201, {});
    await api.request('reportObservation', { params: { patientID: 'p/1' }, data: { type: 'pain' }, idempotencyKey: 'r-1' });
    await api.request('messages', { params: { patientID: 'p1' }, query: { after: 5, before: undefined, limit: 50 } });
    expect(wx._calls[0].url).toMatch(/\/api\/v1\/patients\/p%2F1\/observations$/);
    expect(wx._calls[0].header['Idempotency-Key']).toBe('r-1');
    expect(wx._calls[1].url).toMatch(/thread\/messages\?after=5&limit=50$/);
    expect(() => api.buildUrl(require('../utils/endpoints').plan, {})).toThrow(/patientID/);
  });

  test('never more than MAX_CONCURRENT requests in flight (WeChat allows 10)', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 600000, refreshExpiresAt: Date.now() + 1e9 });
    let inflight = 0, peak = 0;
    wx._handler = () => { inflight++; peak = Math.max(peak, inflight); return new Promise((r) => setTimeout(() => { inflight--; r(json(200, {})); }, 5)); };
    await Promise.all(Array.from({ length: 25 }, () => api.request('me')));
    expect(peak).toBeLessThanOrEqual(api.MAX_CONCURRENT);
    expect(api.MAX_CONCURRENT).toBeLessThanOrEqual(10);
  });

  test('network failures reject with network_error and are not retried blindly', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 600000, refreshExpiresAt: Date.now() + 1e9 });
    wx._handler = () => ({ fail: 'timeout' });
    await expect(api.request('me')).rejects.toMatchObject({ code: 'network_error', status: 0 });
    expect(wx._calls).toHaveLength(1);
  });

  test('image upload goes through wx.uploadFile with the bearer and parses the JSON answer', async () => {
    wx._store['cp.tokens'] = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 600000, refreshExpiresAt: Date.now() + 1e9 });
    wx._handler = () => json(201, { id: 'm1', seq: 3 });
    const m = await api.request('sendImage', { params: { patientID: 'p1' }, filePath: '/tmp/a.jpg', formData: { client_msg_id: 'm-1' } });
    expect(m.seq).toBe(3);
    expect(wx._calls[0].upload).toBe(true);
    expect(wx._calls[0].name).toBe('file');
    expect(wx._calls[0].header.Authorization).toBe('Bearer a');
  });
});
