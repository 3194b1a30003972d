// Dates and numbers for display, always in the hospital's zone (Asia/Shanghai, UTC+8,
// no daylight saving), whatever the phone's own zone is.
const config = require('../config');

const OFFSET_MS = (config.utcOffsetMinutes == null ? 480 : config.utcOffsetMinutes) * 60000;
const WEEKDAYS = ['日', '一', '二', '三', '四', '五', '六'];

function pad(n) { return n < 10 ? '0' + n : String(n); }

function toDate(v) {
  if (v instanceof Date) return v;
  if (typeof v === 'number') return new Date(v);
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) {
    // A bare date is a hospital-zone calendar day: noon there, so it never shifts.
    return new Date(Date.parse(v + 'T12:00:00Z') - OFFSET_MS);
  }
  const d = new Date(v);
  return isNaN(d.getTime()) ? null : d;
}

// parts returns the wall-clock fields of v in the hospital's zone.
function parts(v) {
  const d = toDate(v);
  if (!d) return null;
  const s = new Date(d.getTime() + OFFSET_MS);
  return { y: s.getUTCFullYear(), m: s.getUTCMonth() + 1, d: s.getUTCDate(), h: s.getUTCHours(), min: s.getUTCMinutes(), wd: s.getUTCDay() };
}

function localDay(v) { // YYYY-MM-DD in the hospital's zone
  const p = parts(v === undefined ? new Date() : v);
  return p ? p.y + '-' + pad(p.m) + '-' + pad(p.d) : '';
}

function formatDate(v) { // 2026年11月23日
  const p = parts(v);
  return p ? p.y + '年' + p.m + '月' + p.d + '日' : '';
}

function formatShortDate(v) { // 11月23日 周一
  const p = parts(v);
  return p ? p.m + '月' + p.d + '日 周' + WEEKDAYS[p.wd] : '';
}

function formatTime(v) {
  const p = parts(v);
  return p ? pad(p.h) + ':' + pad(p.min) : '';
}

function formatDateTime(v) { // 2026年11月23日 15:01 (the WeChat "time" format)
  const p = parts(v);
  return p ? formatDate(v) + ' ' + pad(p.h) + ':' + pad(p.min) : '';
}

// formatRelative: 今天 15:01 / 昨天 08:30 / 11月20日 09:00 / 2025年1月2日 09:00
function formatRelative(v, now) {
  const p = parts(v);
  if (!p) return '';
  const today = localDay(now === undefined ? new Date() : now);
  const day = localDay(v);
  const t = pad(p.h) + ':' + pad(p.min);
  if (day === today) return '今天 ' + t;
  const y = toDate(today).getTime() - 86400000;
  if (day === localDay(y)) return '昨天 ' + t;
  const pn = parts(now === undefined ? new Date() : now);
  if (pn && pn.y === p.y) return p.m + '月' + p.d + '日 ' + t;
  return formatDateTime(v);
}

// isoWithZone renders an instant as RFC 3339 with the hospital's offset, e.g.
// 2026-11-23T15:01:00+08:00 (the server wants a time zone on measured_at).
function isoWithZone(v) {
  const d = toDate(v === undefined ? new Date() : v);
  const p = parts(d);
  const s = new Date(d.getTime() + OFFSET_MS);
  const off = OFFSET_MS / 60000;
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return p.y + '-' + pad(p.m) + '-' + pad(p.d) + 'T' + pad(p.h) + ':' + pad(p.min) + ':' + pad(s.getUTCSeconds()) +
    sign + pad(Math.floor(a / 60)) + ':' + pad(a % 60);
}

// localToIso: a day (YYYY-MM-DD) and a time (HH:MM) picked on the phone, read as the
// hospital's wall clock → RFC 3339 with the hospital's offset ('' when incomplete).
function localToIso(day, time) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day || '') || !/^\d{2}:\d{2}$/.test(time || '')) return '';
  const off = OFFSET_MS / 60000;
  const a = Math.abs(off);
  return day + 'T' + time + ':00' + (off >= 0 ? '+' : '-') + pad(Math.floor(a / 60)) + ':' + pad(a % 60);
}

const PHASES = { pre_admission: '院前', in_hospital: '院中', post_discharge: '院后' };
function phaseLabel(p) { return PHASES[p] || ''; }

const VITALS = {
  blood_pressure: { label: '血压', unit: 'mmHg' },
  glucose: { label: '血糖', unit: 'mmol/L' },
  pain: { label: '疼痛', unit: '分' },
  weight: { label: '体重', unit: 'kg' },
  temperature: { label: '体温', unit: '℃' },
  spo2: { label: '血氧', unit: '%' },
  heart_rate: { label: '心率', unit: '次/分' }
};
function vitalLabel(t) { return (VITALS[t] || { label: t }).label; }

// number: at most `digits` decimals, no trailing zeros.
function number(v, digits) {
  if (typeof v !== 'number' || !isFinite(v)) return '';
  const f = Math.pow(10, digits == null ? 1 : digits);
  return String(Math.round(v * f) / f);
}

const SCOPES = {
  view_plan: '查看照护计划',
  view_vitals: '查看体征数据',
  view_appointments: '查看和确认预约',
  message: '与个案管理师沟通',
  report: '代为上报体征',
  receive_push: '接收提醒'
};
function scopeLabel(s) { return SCOPES[s] || s; }

module.exports = {
  toDate, parts, localDay, formatDate, formatShortDate, formatTime, formatDateTime, formatRelative,
  isoWithZone, localToIso, phaseLabel, vitalLabel, number, scopeLabel, SCOPES, VITALS, PHASES
};
