// The API contract the mini-program is checked against: api/openapi.yaml, and nothing else.
// Schemas are checked with Ajv (JSON Schema draft-07) after turning OpenAPI 3.0's
// `nullable` into JSON Schema.
const fs = require('fs');
const path = require('path');
const yaml = require('js-yaml');
const Ajv = require('ajv');

const mainSpecPath = path.join(__dirname, '..', '..', '..', 'api', 'openapi.yaml');

const main = yaml.load(fs.readFileSync(mainSpecPath, 'utf8'));

// findOp: where the endpoint's operation is specified, or null.
function findOp(ep) {
  const item = main.paths[ep.path];
  const op = item && item[ep.method.toLowerCase()];
  return op ? { item, op } : null;
}

function resolve(s) {
  let guard = 0;
  while (s && s.$ref && guard++ < 20) {
    s = s.$ref.replace(/^#\//, '').split('/').reduce((o, k) => (o ? o[k] : undefined), main);
    if (!s) throw new Error('unresolved $ref');
  }
  return s;
}

function parameters(found) {
  return [].concat(found.item.parameters || [], found.op.parameters || []).map(resolve);
}

// toJsonSchema: OpenAPI 3.0 schema object → JSON Schema (nullable, refs into the spec).
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
Object.keys(main.components.schemas).forEach((k) => { specSchemas.components.schemas[k] = toJsonSchema(main.components.schemas[k]); });
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

module.exports = { main, findOp, resolve, parameters, check, requestSchema, successResponse, toJsonSchema, mainSpecPath };
