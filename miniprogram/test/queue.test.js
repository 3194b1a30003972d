const { installWx, json, apiError, freshModules } = require('./helpers/wx');

function path(url) { return url.replace(/^https?:\/\/[^/]+/, '').split('?')[0]; }
const TOKENS = JSON.stringify({ access: 'a', refresh: 'r', accessExpiresAt: Date.now() + 3600000, refreshExpiresAt: Date.now() + 1e9 });

function reading(requests, n) {
  return requests.observation('blood_pressure', { systolic: 130 + n, diastolic: 80 }, { measuredAt: '2026-11-23T08:00:00+08:00' });
}

describe('offline reading queue', () => {
  let wx, api, queue, requests;
  beforeEach(() => {
    wx = installWx();
    wx._store['cp.tokens'] = TOKENS;
    ({ api, queue, requests } = freshModules());
  });

  test('readings are stored with their client id and survive a reload of the module', () => {
    const r = reading(requests, 1);
    expect(queue.enqueue('p1', r)).toBe(true);
    expect(queue.enqueue('p1', r)).toBe(false); // same id twice: one entry
    jest.resetModules();
    const q2 = require('../utils/queue');
    expect(q2.pending('p1')).toHaveLength(1);
    expect(q2.pending('p1')[0].id).toBe(r.id);
    expect(q2.pending('p1')[0].body.id).toBe(r.id);
  });

  test('offline: nothing is lost; the retry later reuses the same ids', async () => {
    const a = reading(requests, 1), b = reading(requests, 2);
    queue.enqueue('p1', a); queue.enqueue('p1', b);
    wx._handler = () => ({ fail: 'offline' });
    const r1 = await queue.flush(api);
    expect(r1.error.code).toBe('network_error');
    expect(r1.remaining).toBe(2);
    expect(queue.pending()[0].attempts).toBe(1);

    const seen = [];
    wx._handler = (c) => {
      seen.push(c.data.items.map((i) => i.id));
      return json(200, { accepted: 2, rejected: 0, results: c.data.items.map((it, i) => ({ index: i, id: it.id, status: 201, replayed: i === 0, result: { reading: { id: 'o' + i } } })) });
    };
    const r2 = await queue.flush(api);
    expect(seen).toEqual([[a.id, b.id]]);
    expect(r2.sent.map((s) => s.id)).toEqual([a.id, b.id]);
    expect(r2.remaining).toBe(0);
  });

  test('batch answers are per item: bad ones are set aside, transient ones stay queued', async () => {
    const a = reading(requests, 1), b = reading(requests, 2), c = reading(requests, 3);
    [a, b, c].forEach((x) => queue.enqueue('p1', x));
    wx._handler = () => json(200, { accepted: 1, rejected: 2, results: [
      { index: 0, id: a.id, status: 201, result: {} },
      { index: 1, id: b.id, status: 400, error: { code: 'out_of_range', message: '收缩压超出范围' } },
      { index: 2, id: c.id, status: 503, error: { code: 'unavailable', message: '稍后再试' } }
    ] });
    const r = await queue.flush(api);
    expect(r.sent.map((s) => s.id)).toEqual([a.id]);
    expect(r.rejected.map((s) => s.id)).toEqual([b.id]);
    expect(queue.pending().map((q) => q.id)).toEqual([c.id]);
    expect(queue.rejected()[0].error.code).toBe('out_of_range');
  });

  test('without the batch route it posts one by one with Idempotency-Key = client id', async () => {
    const a = reading(requests, 1), b = reading(requests, 2);
    queue.enqueue('p1', a); queue.enqueue('p1', b);
    wx._handler = (c) => path(c.url).endsWith('/batch') ? apiError(404, 'route_not_found') : json(201, { reading: { id: 'x' }, alerts: [], guidance: [] });
    const r = await queue.flush(api);
    const singles = wx._calls.filter((c) => path(c.url).endsWith('/observations'));
    expect(singles.map((c) => c.header['Idempotency-Key'])).toEqual([a.id, b.id]);
    expect(singles.map((c) => c.data.id)).toEqual([a.id, b.id]);
    expect(r.remaining).toBe(0);
  });

  test('a server without any observations route keeps the queue intact', async () => {
    queue.enqueue('p1', reading(requests, 1));
    wx._handler = () => apiError(404, 'route_not_found');
    const r = await queue.flush(api);
    expect(r.remaining).toBe(1);
    expect(r.error.code).toBe('route_not_found');
  });

  test('only one flush at a time; readings are grouped by patient', async () => {
    queue.enqueue('p1', reading(requests, 1));
    queue.enqueue('p2', reading(requests, 2));
    wx._handler = (c) => json(200, { accepted: 1, rejected: 0, results: c.data.items.map((it, i) => ({ index: i, id: it.id, status: 201 })) });
    const [x, y] = await Promise.all([queue.flush(api), queue.flush(api)]);
    expect(x).toBe(y);
    const urls = wx._calls.map((c) => path(c.url));
    expect(urls).toEqual(['/api/v1/patients/p1/observations/batch', '/api/v1/patients/p2/observations/batch']);
  });

  test("another account's queued readings are not sent under the current login", async () => {
    wx._store['cp.tokens'] = JSON.stringify(Object.assign(JSON.parse(TOKENS), { userId: 'u2' }));
    const a = reading(requests, 1), b = reading(requests, 2);
    queue.enqueue('p1', a, 'u1');
    queue.enqueue('p1', b, 'u2');
    wx._handler = (c) => json(200, { accepted: 1, rejected: 0, results: c.data.items.map((it, i) => ({ index: i, id: it.id, status: 201 })) });
    const r = await queue.flush(api);
    expect(wx._calls[0].data.items.map((i) => i.id)).toEqual([b.id]);
    expect(r.remaining).toBe(1);
    expect(queue.pending()[0].userId).toBe('u1');
  });

  test('a reading without a client id is refused', () => {
    expect(() => queue.enqueue('p1', { type: 'pain' })).toThrow();
  });
});
