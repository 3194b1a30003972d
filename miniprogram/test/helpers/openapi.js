// The API contract the mini-program is checked against: api/openapi.yaml, plus the
// fragment of agreed-but-unmerged routes in test/fixtures/pending-contract.yaml (used ONLY
// for endpoints marked `pending` in utils/endpoints.js; the repository spec wins whenever
// it has the route). Schemas are checked with Ajv (JSON Schema draft-07) after turning
// OpenAPI 3.0's `nullable` into JSON Schema.
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const Ajv = require('ajv');

const mainSpecPath = path.join(__dirname, '..', '..', '..', 'api', 'openapi.yaml');
const pendingSpecPath = path.join(__dirname, '..', 'fixtures', 'pending-contract.yaml');

const main = yaml.load(fs.readFileSync(mainSpecPath, 'utf8'));
const pending = fs.existsSync(pendingSpecPath) ? yaml.load(fs.readFileSync(pendingSpecPath, 'utf8')) : { paths: {} };

// The pending fragment refers to the main spec's shared parameters and responses, so it is
// resolved inside a merged document (main's definitions always win).
const merged = JSON.parse(JSON.stringify(main));
Object.keys(pending.paths || {}).forEach((p) => { if (!merged.paths[p]) merged.paths[p] = pending.paths[p]; });
['schemas', 'parameters', 'responses'].forEach((k) => {
  const extra = (pending.components || {})[k] || {};
  merged.components[k] = Object.assign({}, extra, merged.components[k]);
});

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

// findOp: where the endpoint's operation is specified, or null.
function findOp(ep) {
  const m = ep.method.toLowerCase();
  const mainItem = main.paths[ep.path];
  if (mainItem && mainItem[m]) return { item: mainItem, op: mainItem[m], source: 'main' };
  if (!ep.pending) return null; // only declared pending endpoints may use the fixture
  const pItem = (pending.paths || {})[ep.path];
  if (pItem && pItem[m]) return { item: pItem, op: pItem[m], source: 'pending' };
  return null;
}

function resolve(s) {
  let guard = 0;
  while (s && s.$ref && guard++ < 20) {
    s = s.$ref.replace(/^#\//, '').split('/').reduce((o, k) => (o ? o[k] : undefined), merged);
    if (!s) throw new Error('unresolved $ref');
  }
  return s;
}

function parameters(found) {
  return [].concat(found.item.parameters || [], found.op.parameters || []).map(resolve);
}

// toJsonSchema: OpenAPI 3.0 schema object → JSON Schema (nullable, refs into the merged doc).
function toJsonSchema(s) {
  if (Array.isArray(s)) return s.map(toJsonSchema);
  if (!s || typeof s !== 'object') return s;
  const out = {};
  Object.keys(s).forEach((k) => {
    if (k === 'nullable' || k === 'example' || k === 'description' || k === 'discriminator') return;
    if (k === '$ref') { out.$ref = 'spec' + s.$ref; return; }
    if (k === 'properties' || k === 'patternProperties') {
      out[k] = {};
      Object.keys(s[k]).forEach((p) => { out[k][p] = toJsonSchema(s[k][p]); });
      return;
    }
    out[k] = toJsonSchema(s[k]);
  });
  if (s.nullable) {
    if (out.type && !out.allOf && !out.$ref) {
      out.type = [out.type, 'null'];
      if (out.enum) out.enum = out.enum.concat([null]);
    } else {
      return { anyOf: [out, { type: 'null' }] };
    }
  }
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addFormat('date-time', (v) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) && !isNaN(Date.parse(v)));
ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/);
ajv.addFormat('binary', () => true);
ajv.addFormat('int64', { type: 'number', validate: Number.isSafeInteger });
ajv.addFormat('int32', { type: 'number', validate: (n) => Number.isInteger(n) && Math.abs(n) < 2 ** 31 });
ajv.addFormat('uri', /^[a-z][a-z0-9+.-]*:/i);
const specSchemas = { $id: 'spec', components: { schemas: {} } };
Object.keys(merged.components.schemas).forEach((k) => { specSchemas.components.schemas[k] = toJsonSchema(merged.components.schemas[k]); });
ajv.addSchema(specSchemas);

const compiled = new Map();
// check returns Ajv's error list (empty when value satisfies the OpenAPI schema).
function check(schema, value) {
  let v = compiled.get(schema);
  if (!v) { v = ajv.compile(toJsonSchema(schema)); compiled.set(schema, v); }
  return v(value) ? [] : v.errors.map((e) => (e.instancePath || '$') + ' ' + e.message + (e.params && e.params.additionalProperty ? ' (' + e.params.additionalProperty + ')' : ''));
}

function requestSchema(found, contentType) {
  const rb = found.op.requestBody && resolve(found.op.requestBody);
  const c = rb && rb.content && rb.content[contentType || 'application/json'];
  return c ? c.schema : null;
}

// successResponse: the first 2xx response: {status, contentType, schema} (schema null for
// a response without a body).
function successResponse(found) {
  const code = Object.keys(found.op.responses).filter((c) => /^2/.test(c)).sort()[0];
  const r = resolve(found.op.responses[code]);
  const types = Object.keys((r && r.content) || {});
  return { status: Number(code), contentType: types[0] || null, schema: types[0] ? r.content[types[0]].schema : null };
}

module.exports = { main, pending, merged, METHODS, findOp, resolve, parameters, check, requestSchema, successResponse, toJsonSchema, mainSpecPath, pendingSpecPath };
