const f = require('../utils/format');

describe('formatting in Asia/Shanghai', () => {
  test('instants are shown in the hospital zone whatever the phone zone', () => {
    // 2026-11-23T16:30Z is 00:30 the next day in Shanghai
    expect(f.localDay('2026-11-23T16:30:00Z')).toBe('2026-11-24');
    expect(f.formatDateTime('2026-11-23T16:30:00Z')).toBe('2026年11月24日 00:30');
    expect(f.formatTime('2026-11-23T07:05:00Z')).toBe('15:05');
    expect(f.formatDate('2026-01-02T00:00:00+08:00')).toBe('2026年1月2日');
  });

  test('bare dates are calendar days and never shift', () => {
    expect(f.formatDate('2026-11-23')).toBe('2026年11月23日');
    expect(f.localDay('2026-11-23')).toBe('2026-11-23');
    expect(f.formatShortDate('2026-11-23')).toBe('11月23日 周一');
  });

  test('relative labels', () => {
    const now = new Date('2026-11-23T04:00:00Z'); // 12:00 in Shanghai
    expect(f.formatRelative('2026-11-23T01:00:00Z', now)).toBe('今天 09:00');
    expect(f.formatRelative('2026-11-22T01:00:00Z', now)).toBe('昨天 09:00');
    expect(f.formatRelative('2026-11-20T01:00:00Z', now)).toBe('11月20日 09:00');
    expect(f.formatRelative('2025-11-20T01:00:00Z', now)).toBe('2025年11月20日 09:00');
  });

  test('isoWithZone gives RFC 3339 with +08:00', () => {
    expect(f.isoWithZone(new Date('2026-11-23T16:30:05Z'))).toBe('2026-11-24T00:30:05+08:00');
    expect(new Date(f.isoWithZone(new Date('2026-11-23T16:30:05Z'))).toISOString()).toBe('2026-11-23T16:30:05.000Z');
  });

  test('labels and numbers', () => {
    expect(f.phaseLabel('post_discharge')).toBe('院后');
    expect(f.vitalLabel('glucose')).toBe('血糖');
    expect(f.scopeLabel('report')).toBe('代为上报体征');
    expect(f.number(6.1234, 1)).toBe('6.1');
    expect(f.number(NaN)).toBe('');
    expect(f.formatDate('not a date')).toBe('');
  });
});

describe('picked local times', () => {
  test('a day and time picked on the phone are the hospital wall clock in RFC 3339', () => {
    expect(f.localToIso('2026-12-12', '09:30')).toBe('2026-12-12T09:30:00+08:00');
    expect(Date.parse(f.localToIso('2026-12-12', '00:15'))).toBe(Date.parse('2026-12-11T16:15:00Z'));
    expect(f.localToIso('2026-12-12', '')).toBe('');
    expect(f.localToIso('', '09:30')).toBe('');
    expect(f.localToIso('12/12/2026', '09:30')).toBe('');
  });
});
