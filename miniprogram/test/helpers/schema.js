// A small OpenAPI 3.0 schema checker and sample generator: enough of JSON Schema for
// api/openapi.yaml ($ref, allOf, nullable, type, enum, required, properties,
// additionalProperties, items, min/max, length, pattern).
function resolve(doc, s) {
  let guard = 0;
  while (s && s.$ref && guard++ < 20) {
    const parts = s.$ref.replace(/^#\//, '').split('/');
    s = parts.reduce((o, k) => (o ? o[k] : undefined), doc);
    if (!s) throw new Error('unresolved $ref');
  }
  return s;
}

function typeOf(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function validate(doc, schema, value, at, errors) {
  errors = errors || [];
  at = at || '$';
  const s = resolve(doc, schema);
  if (!s) return errors;
  if (value === null) {
    if (!s.nullable) errors.push(at + ': null not allowed');
    return errors;
  }
  if (s.allOf) s.allOf.forEach((sub) => validate(doc, sub, value, at, errors));
  if (s.enum && s.enum.indexOf(value) < 0) errors.push(at + ': ' + JSON.stringify(value) + ' not in ' + s.enum.join('|'));
  const t = typeOf(value);
  if (s.type) {
    const ok = s.type === t || (s.type === 'number' && t === 'integer');
    if (!ok) { errors.push(at + ': expected ' + s.type + ', got ' + t); return errors; }
  }
  if (t === 'string') {
    if (s.maxLength !== undefined && value.length > s.maxLength) errors.push(at + ': longer than ' + s.maxLength);
    if (s.minLength !== undefined && value.length < s.minLength) errors.push(at + ': shorter than ' + s.minLength);
    if (s.pattern && !new RegExp(s.pattern).test(value)) errors.push(at + ': does not match ' + s.pattern);
    if (s.format === 'date-time' && isNaN(Date.parse(value))) errors.push(at + ': not a date-time');
  }
  if (t === 'integer' || t === 'number') {
    if (s.minimum !== undefined && value < s.minimum) errors.push(at + ': below ' + s.minimum);
    if (s.maximum !== undefined && value > s.maximum) errors.push(at + ': above ' + s.maximum);
  }
  if (t === 'array') {
    if (s.minItems !== undefined && value.length < s.minItems) errors.push(at + ': fewer than ' + s.minItems + ' items');
    if (s.maxItems !== undefined && value.length > s.maxItems) errors.push(at + ': more than ' + s.maxItems + ' items');
    if (s.items) value.forEach((v, i) => validate(doc, s.items, v, at + '[' + i + ']', errors));
  }
  if (t === 'object') {
    (s.required || []).forEach((k) => { if (!(k in value)) errors.push(at + ': missing required ' + k); });
    const props = s.properties || {};
    Object.keys(value).forEach((k) => {
      if (props[k]) validate(doc, props[k], value[k], at + '.' + k, errors);
      else if (s.additionalProperties === false && !(s.allOf)) errors.push(at + ': unexpected property ' + k);
      else if (s.additionalProperties && typeof s.additionalProperties === 'object') validate(doc, s.additionalProperties, value[k], at + '.' + k, errors);
    });
  }
  return errors;
}

// sample builds a value satisfying the schema. full=true fills every optional property
// too; full=false only the required ones (to check handlers tolerate absences).
function sample(doc, schema, full, depth) {
  depth = depth || 0;
  const s = resolve(doc, schema);
  if (!s || depth > 12) return null;
  if (s.allOf) return s.allOf.reduce((acc, sub) => Object.assign(acc || {}, sample(doc, sub, full, depth + 1)), undefined);
  if (s.enum) return s.enum[0];
  if (s.example !== undefined && typeof s.example !== 'object') return s.example;
  switch (s.type) {
    case 'object': {
      const o = {};
      const props = s.properties || {};
      Object.keys(props).forEach((k) => {
        if (full || (s.required || []).indexOf(k) >= 0) o[k] = sample(doc, props[k], full, depth + 1);
      });
      return o;
    }
    case 'array': {
      const n = Math.max(s.minItems || 0, full ? 1 : 0);
      const a = [];
      for (let i = 0; i < n; i++) a.push(sample(doc, s.items, full, depth + 1));
      return a;
    }
    case 'integer': return Math.max(s.minimum !== undefined ? s.minimum : 1, 1);
    case 'number': return s.minimum !== undefined ? s.minimum : 1.5;
    case 'boolean': return true;
    case 'string':
      if (s.format === 'date-time') return '2026-11-23T08:00:00Z';
      if (s.format === 'date' || (s.pattern && s.pattern.indexOf('[0-9]{4}-') >= 0)) return '2026-11-23';
      if (s.pattern === '^[A-Z2-7]{26}$') return 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
      if (s.pattern && /\^\[a-z\]/.test(s.pattern)) return 'some_code';
      return 'x';
    default:
      if (s.properties) return sample(doc, Object.assign({ type: 'object' }, s), full, depth);
      return null;
  }
}

module.exports = { validate, sample, resolve };
