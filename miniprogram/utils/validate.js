// Validation of readings before they are sent or queued. The bounds are the server's
// (internal/observation/types.go): the client only saves the user a round trip and
// says clearly, in large text, which field to fix.
const MGDL_PER_MMOL = 18.0;

const BOUNDS = {
  systolic: [50, 299],
  diastolic: [20, 200],
  pulse: [20, 250],
  glucose_mmol: [1.1, 33.3],
  pain: [0, 10],
  weight_kg: [10, 300]
};

function num(v) {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string' || v.trim() === '') return NaN;
  return Number(v.trim());
}

function inRange(v, r) { return isFinite(v) && v >= r[0] && v <= r[1]; }

function result(errors, value) {
  return { ok: Object.keys(errors).length === 0, errors: errors, value: value };
}

function bloodPressure(input) {
  const s = num(input.systolic);
  const d = num(input.diastolic);
  const hasPulse = input.pulse !== undefined && input.pulse !== null && String(input.pulse).trim() !== '';
  const p = hasPulse ? num(input.pulse) : undefined;
  const e = {};
  if (!isFinite(s)) e.systolic = '请填写高压（收缩压）';
  else if (!inRange(s, BOUNDS.systolic)) e.systolic = '高压应在 50–299 之间，请再量一次';
  if (!isFinite(d)) e.diastolic = '请填写低压（舒张压）';
  else if (!inRange(d, BOUNDS.diastolic)) e.diastolic = '低压应在 20–200 之间，请再量一次';
  if (!e.systolic && !e.diastolic && s <= d) e.diastolic = '高压应大于低压，请核对';
  if (hasPulse && (!inRange(p, BOUNDS.pulse) || Math.round(p) !== p)) e.pulse = '脉搏应为 20–250 的整数';
  const v = { systolic: s, diastolic: d };
  if (hasPulse) v.pulse = p;
  return result(e, v);
}

// toMmol converts a glucose value to mmol/L (the server's canonical unit).
function toMmol(value, unit) {
  return unit === 'mg/dL' ? value / MGDL_PER_MMOL : value;
}

const GLUCOSE_CONTEXTS = ['fasting', 'after_meal', 'random', 'bedtime'];
const PAIN_CONTEXTS = ['rest', 'movement'];

function glucose(input) {
  const unit = input.unit === 'mg/dL' ? 'mg/dL' : 'mmol/L';
  const v = num(input.value);
  const e = {};
  if (!isFinite(v)) e.value = '请填写血糖值';
  else {
    const mmol = toMmol(v, unit);
    if (!inRange(mmol, BOUNDS.glucose_mmol)) {
      e.value = unit === 'mg/dL' ? '血糖应在 20–600 mg/dL 之间' : '血糖应在 1.1–33.3 mmol/L 之间';
      // A common slip: a mg/dL number typed with mmol/L selected.
      if (unit === 'mmol/L' && inRange(v / MGDL_PER_MMOL, BOUNDS.glucose_mmol)) e.value += '；如果血糖仪显示 mg/dL，请切换单位';
    }
  }
  // The server requires the meal relation (its trends are split by it).
  if (GLUCOSE_CONTEXTS.indexOf(input.context) < 0) e.context = '请选择测量时段（空腹、餐后、睡前或随机）';
  const out = { value: v, unit: unit, context: input.context };
  return result(e, out);
}

function pain(input) {
  const s = num(input.score);
  const e = {};
  if (!isFinite(s) || Math.round(s) !== s || !inRange(s, BOUNDS.pain)) e.score = '请选择 0–10 分';
  // The server requires whether the pain is at rest or on movement.
  if (PAIN_CONTEXTS.indexOf(input.context) < 0) e.context = '请选择是休息时还是活动时的疼痛';
  const out = { score: s, context: input.context };
  if (input.location) {
    if (String(input.location).length > 32) e.location = '部位最多 32 个字';
    out.location = String(input.location);
  }
  return result(e, out);
}

function weight(input) {
  const unit = input.unit === 'jin' ? 'jin' : 'kg';
  let v = num(input.value);
  const e = {};
  if (!isFinite(v)) e.value = '请填写体重';
  else {
    if (unit === 'jin') v = v / 2; // 1 斤 = 0.5 kg; sent in kg
    if (!inRange(v, BOUNDS.weight_kg)) e.value = '体重应在 10–300 公斤之间';
  }
  return result(e, { value: v, unit: 'kg' });
}

const VALIDATORS = { blood_pressure: bloodPressure, glucose: glucose, pain: pain, weight: weight };

function reading(type, input) {
  const f = VALIDATORS[type];
  if (!f) return result({ type: '不支持的类型' }, null);
  return f(input || {});
}

// questionnaire checks answers against the definition the server sent (the server checks
// again): required questions answered, options from the list, numbers in range, text not
// too long. Returns {ok, errors: {key: message}, value: answers to send}.
function questionnaire(def, answers) {
  const errors = {};
  const value = {};
  ((def && def.items) || []).forEach(function (q) {
    let a = answers ? answers[q.key] : undefined;
    const empty = a === undefined || a === null || (typeof a === 'string' && a.trim() === '') || (Array.isArray(a) && !a.length);
    if (empty) {
      if (q.required) errors[q.key] = '请回答这一题';
      return;
    }
    const allowed = (q.options || []).map(function (o) { return o.value; });
    if (q.type === 'single') {
      if (allowed.indexOf(String(a)) < 0) errors[q.key] = '请从选项中选择'; else value[q.key] = String(a);
    } else if (q.type === 'multiple') {
      a = [].concat(a).map(String);
      if (a.some(function (x) { return allowed.indexOf(x) < 0; })) errors[q.key] = '请从选项中选择'; else value[q.key] = a;
    } else if (q.type === 'scale' || q.type === 'number') {
      const n = num(typeof a === 'number' ? a : String(a));
      if (!isFinite(n)) errors[q.key] = '请填写数字';
      else if ((q.min !== undefined && n < q.min) || (q.max !== undefined && n > q.max)) errors[q.key] = '请填写 ' + q.min + ' 到 ' + q.max + ' 之间的数';
      else if (q.type === 'scale' && !Number.isInteger(n)) errors[q.key] = '请选择一个分数';
      else value[q.key] = n;
    } else {
      a = String(a).trim();
      if (q.max_length && a.length > q.max_length) errors[q.key] = '最多 ' + q.max_length + ' 个字';
      else value[q.key] = a;
    }
  });
  return result(errors, value);
}

module.exports = { questionnaire, bloodPressure, glucose, pain, weight, reading, toMmol, BOUNDS, GLUCOSE_CONTEXTS, PAIN_CONTEXTS, MGDL_PER_MMOL };
