// A fake CarePath server for page tests that only speaks the contract: every request must
// be an endpoint of utils/endpoints.js (matched by method and path), its JSON body must
// satisfy the spec's request schema, an Idempotency-Key is sent exactly where the spec takes
// one, and it is answered with the endpoint's response from
// test/fixtures/responses.js (validated against the spec by the contract test) unless the
// test overrides it. Anything else is recorded in `problems`, which tests assert empty.
const E = require('../../utils/endpoints');
const S = require('./openapi');
const RESPONSES = require('../fixtures/responses');
const { sample } = require('./schema');

const routes = Object.keys(E).filter((n) => !E[n].upload && !E[n].download).map((n) => ({
  name: n,
  method: E[n].method,
  re: new RegExp('^' + E[n].path.replace(/\{\w+\}/g, '[^/]+') + '$')
}));

function specServer(overrides) {
  overrides = overrides || {};
  const server = { problems: [], seen: [] };
  server.calls = (name) => server.seen.filter((c) => c.name === name);
  server.handler = (call) => {
    const p = call.url.replace(/^[a-z]+:\/\/[^/]+/, '').split('?')[0];
    const matches = routes.filter((r) => r.method === call.method && r.re.test(p));
    // a literal path beats a templated one (…/export/summary vs …/{id})
    const route = matches.sort((a, b) => E[b.name].path.split('{').length - E[a.name].path.split('{').length).pop();
    if (!route) {
      server.problems.push('not an endpoint of the app: ' + call.method + ' ' + p);
      return { statusCode: 404, data: { error: { code: 'route_not_found', message: '请求的接口不存在' } } };
    }
    const ep = E[route.name];
    const found = S.findOp(ep);
    const schema = S.requestSchema(found);
    if (schema) {
      const errs = S.check(schema, call.data);
      if (errs.length) server.problems.push(route.name + ' request body: ' + errs.join('; '));
    } else if (call.data !== undefined && call.data !== null) {
      server.problems.push(route.name + ' sends a body the spec does not take');
    }
    const key = (call.header || {})['Idempotency-Key'];
    const takesKey = S.parameters(found).some((x) => x.in === 'header' && x.name === 'Idempotency-Key');
    if (takesKey && !/^[A-Za-z0-9_.:-]{1,64}$/.test(key || '')) server.problems.push(route.name + ' without a valid Idempotency-Key');
    if (!takesKey && key !== undefined) server.problems.push(route.name + ' sends an Idempotency-Key the spec does not take');
    server.seen.push(Object.assign({ name: route.name, path: p }, call));
    const o = overrides[route.name];
    const res = typeof o === 'function' ? o(call) : o;
    if (res && (res.statusCode || res.fail)) return res; // an explicit status, or a network failure
    const ok = S.successResponse(found);
    // the test's answer, else the hand-written fixture, else a full sample generated from the spec
    const data = res !== undefined ? res : RESPONSES[route.name] !== undefined ? RESPONSES[route.name]
      : ok.schema ? sample(S.main, ok.schema, true) : undefined;
    if (res !== undefined && ok.schema) { // a test's own answer must be one the spec allows
      const errs = S.check(ok.schema, data);
      if (errs.length) server.problems.push(route.name + ' response in the test: ' + errs.join('; '));
    }
    return { statusCode: ok.status, data };
  };
  return server;
}

module.exports = { specServer };
