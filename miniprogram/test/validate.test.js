const v = require('../utils/validate');

describe('validators', () => {
  test('blood pressure: systolic must exceed diastolic, within the server bounds', () => {
    expect(v.bloodPressure({ systolic: '135', diastolic: '85' })).toMatchObject({ ok: true, value: { systolic: 135, diastolic: 85 } });
    expect(v.bloodPressure({ systolic: 80, diastolic: 90 }).errors.diastolic).toMatch('高压应大于低压');
    expect(v.bloodPressure({ systolic: 80, diastolic: 80 }).ok).toBe(false);
    expect(v.bloodPressure({ systolic: 300, diastolic: 80 }).errors.systolic).toBeTruthy();
    expect(v.bloodPressure({ systolic: 120, diastolic: 19 }).errors.diastolic).toBeTruthy();
    expect(v.bloodPressure({ systolic: '', diastolic: 80 }).errors.systolic).toMatch('请填写');
    expect(v.bloodPressure({ systolic: 120, diastolic: 80, pulse: '72' }).value.pulse).toBe(72);
    expect(v.bloodPressure({ systolic: 120, diastolic: 80, pulse: '72.5' }).errors.pulse).toBeTruthy();
    expect(v.bloodPressure({ systolic: 120, diastolic: 80, pulse: '' }).value).not.toHaveProperty('pulse');
  });

  test('glucose: mmol/L and mg/dL ranges, with a hint when mg/dL was typed as mmol/L', () => {
    expect(v.glucose({ value: '6.1', unit: 'mmol/L', context: 'fasting' })).toMatchObject({ ok: true, value: { value: 6.1, unit: 'mmol/L', context: 'fasting' } });
    expect(v.glucose({ value: 110, unit: 'mg/dL', context: 'after_meal' })).toMatchObject({ ok: true, value: { unit: 'mg/dL' } });
    expect(v.glucose({ value: 110, unit: 'mmol/L', context: 'fasting' }).errors.value).toMatch('mg/dL');
    expect(v.glucose({ value: 0.5, context: 'fasting' }).ok).toBe(false);
    expect(v.glucose({ value: 700, unit: 'mg/dL', context: 'fasting' }).ok).toBe(false);
    expect(v.glucose({ value: 6, context: 'lunch' }).errors.context).toBeTruthy();
    expect(v.glucose({ value: 6 }).errors.context).toMatch('测量时段'); // the server requires it
    expect(v.toMmol(180, 'mg/dL')).toBeCloseTo(10);
  });

  test('pain: integer 0–10, at rest or on movement', () => {
    expect(v.pain({ score: 0, context: 'rest' }).ok).toBe(true);
    expect(v.pain({ score: 10, context: 'movement', location: '膝盖' }).value).toEqual({ score: 10, context: 'movement', location: '膝盖' });
    expect(v.pain({ score: 11, context: 'rest' }).ok).toBe(false);
    expect(v.pain({ score: 3.5, context: 'rest' }).ok).toBe(false);
    expect(v.pain({ score: 3 }).errors.context).toBeTruthy(); // the server requires it
    expect(v.pain({}).ok).toBe(false);
  });

  test('weight: kg, or 斤 converted to kg', () => {
    expect(v.weight({ value: '65.5' }).value).toEqual({ value: 65.5, unit: 'kg' });
    expect(v.weight({ value: 130, unit: 'jin' }).value).toEqual({ value: 65, unit: 'kg' });
    expect(v.weight({ value: 5 }).ok).toBe(false);
    expect(v.weight({ value: 'abc' }).ok).toBe(false);
  });

  test('reading dispatches by type', () => {
    expect(v.reading('pain', { score: 2, context: 'rest' }).ok).toBe(true);
    expect(v.reading('spo2', {}).ok).toBe(false);
  });
});

describe('questionnaire answers', () => {
  const def = require('./fixtures/responses').questionnaire.questionnaire;

  test('required questions must be answered; optional ones may be left out', () => {
    const r = v.questionnaire(def, { aids: [] });
    expect(r.ok).toBe(false);
    expect(Object.keys(r.errors).sort()).toEqual(['pain_now', 'walk_flat']);
    expect(r.errors.walk_flat).toBe('请回答这一题');
    expect(v.questionnaire(def, { walk_flat: '0', pain_now: 0 })).toEqual({ ok: true, errors: {}, value: { walk_flat: '0', pain_now: 0 } });
  });

  test('options from the list, numbers in range, whole scale steps, text within its length', () => {
    const r = v.questionnaire(def, { walk_flat: '9', aids: ['cane', 'jetpack'], pain_now: 11, walk_minutes: 'abc', other: 'x'.repeat(201) });
    expect(r.errors).toEqual({
      walk_flat: '请从选项中选择', aids: '请从选项中选择', pain_now: '请填写 0 到 10 之间的数',
      walk_minutes: '请填写数字', other: '最多 200 个字'
    });
    expect(v.questionnaire(def, { walk_flat: '1', pain_now: 2.5 }).errors.pain_now).toBe('请选择一个分数');
    const ok = v.questionnaire(def, { walk_flat: 1, aids: 'cane', pain_now: '3', walk_minutes: ' 45 ', other: '  走路好多了 ' });
    expect(ok.value).toEqual({ walk_flat: '1', aids: ['cane'], pain_now: 3, walk_minutes: 45, other: '走路好多了' });
  });
});
