const { RealtimeClient, MAX_DELAY } = require('../utils/ws');

function fakeSocketFactory() {
  const sockets = [];
  const connect = (url, protocols) => {
    const s = { url, protocols, sent: [], handlers: {}, closed: false };
    s.onOpen = (f) => { s.handlers.open = f; };
    s.onMessage = (f) => { s.handlers.message = f; };
    s.onClose = (f) => { s.handlers.close = f; };
    s.onError = (f) => { s.handlers.error = f; };
    s.send = (o) => s.sent.push(JSON.parse(o.data));
    s.close = () => { s.closed = true; };
    s.open = () => s.handlers.open();
    s.recv = (obj) => s.handlers.message({ data: JSON.stringify(obj) });
    s.drop = (code) => s.handlers.close({ code });
    sockets.push(s);
    return s;
  };
  return { sockets, connect };
}

function fakeTimers() {
  const t = { queue: [], delays: [] };
  t.setTimeout = (f, d) => { const id = t.queue.length + 1; t.queue.push({ id, f, d }); t.delays.push(d); return id; };
  t.clearTimeout = (id) => { t.queue = t.queue.filter((x) => x.id !== id); };
  t.runNext = () => { const x = t.queue.shift(); if (x) x.f(); };
  return t;
}

const tick = () => new Promise((r) => setImmediate(r));
const msg = (seq) => ({ id: 'm' + seq, patient_id: 'p1', seq, kind: 'text', sender: { kind: 'staff', id: 's', role: 'cm' }, internal: false, recalled: false, created_at: '2026-11-23T00:00:00Z' });

describe('realtime client', () => {
  let f, timers, events, fetchAfter, client, tokens;
  beforeEach(() => {
    f = fakeSocketFactory();
    timers = fakeTimers();
    events = [];
    tokens = [];
    fetchAfter = jest.fn(async () => ({ items: [], last_seq: 0, has_more: false }));
    client = new RealtimeClient({
      url: 'ws://x/api/v1/ws', connect: f.connect,
      getToken: async (force) => { tokens.push(force); return 'tok'; },
      fetchAfter, onEvent: (e) => events.push(e),
      setTimeout: timers.setTimeout, clearTimeout: timers.clearTimeout, random: () => 1
    });
  });

  test('authenticates with subprotocols, not the URL, and subscribes with the cursor on open', async () => {
    client.subscribe('p1', 7);
    await tick();
    const s = f.sockets[0];
    expect(s.url).toBe('ws://x/api/v1/ws');
    expect(s.protocols).toEqual(['carepath.v1', 'bearer.tok']);
    s.open();
    expect(s.sent).toEqual([{ type: 'subscribe', patient_id: 'p1', after_seq: 7 }]);
  });

  test('delivers each message once and in order; the cursor follows', async () => {
    client.subscribe('p1', 0);
    await tick();
    const s = f.sockets[0]; s.open();
    s.recv({ type: 'message', patient_id: 'p1', message: msg(1) });
    s.recv({ type: 'message', patient_id: 'p1', message: msg(2) });
    s.recv({ type: 'message', patient_id: 'p1', message: msg(2) });
    s.recv({ type: 'message', patient_id: 'p1', message: msg(1) });
    expect(events.filter((e) => e.type === 'message').map((e) => e.message.seq)).toEqual([1, 2]);
    expect(client.cursor('p1')).toBe(2);
  });

  test('reconnects with exponential backoff and resubscribes after the last seen seq', async () => {
    client.subscribe('p1', 0);
    await tick();
    f.sockets[0].open();
    f.sockets[0].recv({ type: 'message', patient_id: 'p1', message: msg(5) });
    f.sockets[0].drop(1013);
    expect(timers.delays[0]).toBe(1000);
    timers.runNext(); await tick();
    f.sockets[1].drop(1006); // never opened
    timers.runNext(); await tick();
    f.sockets[2].drop(1006);
    expect(timers.delays).toEqual([1000, 2000, 4000]);
    timers.runNext(); await tick();
    f.sockets[3].open();
    expect(f.sockets[3].sent).toEqual([{ type: 'subscribe', patient_id: 'p1', after_seq: 5 }]);
    f.sockets[3].drop(1001);
    expect(timers.delays[3]).toBe(1000); // a successful open resets the backoff
  });

  test('the backoff is capped', () => {
    expect(client.backoff(20)).toBe(MAX_DELAY);
  });

  test('while the socket keeps failing the thread is caught up over HTTP by cursor', async () => {
    fetchAfter.mockImplementation(async (pid, after) => after < 3
      ? { items: [msg(after + 1)], last_seq: 3, has_more: true }
      : { items: [], last_seq: 3, has_more: false });
    client.subscribe('p1', 0);
    await tick();
    for (let i = 0; i < 3; i++) { f.sockets[i].drop(1006); timers.runNext(); await tick(); }
    await tick(); await tick(); await tick();
    expect(fetchAfter).toHaveBeenCalledWith('p1', 0);
    expect(events.filter((e) => e.type === 'message').map((e) => e.message.seq)).toEqual([1, 2, 3]);
    expect(tokens).toContain(true); // repeated handshake failures ask for a refreshed token
  });

  test('resume (app back from background) catches up and redials immediately', async () => {
    client.subscribe('p1', 2);
    await tick();
    f.sockets[0].open();
    f.sockets[0].drop(1006);
    expect(timers.queue).toHaveLength(1);
    fetchAfter.mockResolvedValueOnce({ items: [msg(3), msg(4)], last_seq: 4, has_more: false });
    await client.resume();
    await tick();
    expect(timers.queue).toHaveLength(0);
    expect(f.sockets).toHaveLength(2);
    expect(client.cursor('p1')).toBe(4);
  });

  test('access revoked: the subscription is dropped and reported', async () => {
    client.subscribe('p1', 0);
    await tick();
    f.sockets[0].open();
    f.sockets[0].recv({ type: 'unsubscribed', patient_id: 'p1', code: 'access_revoked' });
    expect(events.some((e) => e.type === 'unsubscribed' && e.code === 'access_revoked')).toBe(true);
    f.sockets[0].recv({ type: 'message', patient_id: 'p1', message: msg(9) });
    expect(events.filter((e) => e.type === 'message')).toHaveLength(0);
  });

  test('stop closes the socket and cancels reconnects', async () => {
    client.subscribe('p1', 0);
    await tick();
    f.sockets[0].drop(1006);
    client.stop();
    expect(timers.queue).toHaveLength(0);
  });
});
