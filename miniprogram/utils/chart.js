// Trend charts drawn on a canvas 2D context, no chart library: for each day a band from
// min to max, and the daily mean as a line with dots; the target range (if any) as a
// faint background strip. computeModel is pure (tested); draw only paints it.
const format = require('./format');

function niceStep(span, ticks) {
  const raw = span / Math.max(1, ticks);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

function dayIndex(day, from) {
  return Math.round((Date.parse(day + 'T00:00:00Z') - Date.parse(from + 'T00:00:00Z')) / 86400000);
}

// computeModel(trend, {width, height}) → geometry in CSS pixels.
function computeModel(trend, size) {
  const W = size.width;
  const H = size.height;
  const pad = { left: 48, right: 12, top: 16, bottom: 36 };
  const series = (trend && trend.series) || [];
  const from = trend && trend.from;
  const to = trend && trend.to;
  const days = from && to ? Math.max(1, dayIndex(to, from)) : 1;
  let lo = Infinity;
  let hi = -Infinity;
  series.forEach(function (s) {
    (s.points || []).forEach(function (p) { lo = Math.min(lo, p.min); hi = Math.max(hi, p.max); });
    if (s.target) {
      if (typeof s.target.low === 'number') lo = Math.min(lo, s.target.low);
      if (typeof s.target.high === 'number') hi = Math.max(hi, s.target.high);
    }
  });
  const empty = !isFinite(lo);
  if (empty) { lo = 0; hi = 1; }
  if (hi === lo) { hi += 1; lo -= 1; }
  const step = niceStep(hi - lo, 4);
  const yMin = Math.floor(lo / step) * step;
  const yMax = Math.ceil(hi / step) * step;
  const plotW = W - pad.left - pad.right;
  const plotH = H - pad.top - pad.bottom;
  const x = function (day) { return pad.left + (dayIndex(day, from) / days) * plotW; };
  const y = function (v) { return pad.top + (1 - (v - yMin) / (yMax - yMin)) * plotH; };
  const yTicks = [];
  for (let v = yMin; v <= yMax + step / 2; v += step) yTicks.push({ value: Number(v.toFixed(6)), label: format.number(v, 1), y: y(v) });
  const xLabels = [];
  if (from && to) {
    const n = Math.min(4, days);
    for (let i = 0; i <= n; i++) {
      const ms = Date.parse(from + 'T00:00:00Z') + Math.round((days * i) / n) * 86400000;
      const d = new Date(ms).toISOString().slice(0, 10);
      xLabels.push({ x: x(d), label: Number(d.slice(5, 7)) + '/' + Number(d.slice(8, 10)) });
    }
  }
  const out = series.map(function (s, i) {
    const pts = (s.points || []).slice().sort(function (a, b) { return a.day < b.day ? -1 : 1; });
    return {
      name: s.name, label: s.label, unit: s.unit, colorIndex: i,
      target: s.target && typeof s.target.low === 'number' && typeof s.target.high === 'number'
        ? { y1: y(s.target.high), y2: y(s.target.low) } : null,
      bands: pts.map(function (p) { return { x: x(p.day), yMin: y(p.min), yMax: y(p.max) }; }),
      line: pts.map(function (p) { return { x: x(p.day), y: y(p.mean), mean: p.mean, day: p.day }; })
    };
  });
  return { width: W, height: H, pad: pad, yMin: yMin, yMax: yMax, yTicks: yTicks, xLabels: xLabels, series: out, empty: empty || out.every(function (s) { return !s.line.length; }) };
}

const COLORS = ['#1f6feb', '#d9480f', '#2b8a3e', '#7048e8'];

function draw(ctx, model) {
  const m = model;
  ctx.clearRect(0, 0, m.width, m.height);
  ctx.font = '14px sans-serif';
  ctx.fillStyle = '#666';
  ctx.strokeStyle = '#e5e5e5';
  ctx.lineWidth = 1;
  m.yTicks.forEach(function (t) {
    ctx.beginPath(); ctx.moveTo(m.pad.left, t.y); ctx.lineTo(m.width - m.pad.right, t.y); ctx.stroke();
    ctx.fillText(t.label, 4, t.y + 5);
  });
  m.xLabels.forEach(function (l) { ctx.fillText(l.label, l.x - 14, m.height - 10); });
  m.series.forEach(function (s) {
    const color = COLORS[s.colorIndex % COLORS.length];
    if (s.target) {
      ctx.fillStyle = 'rgba(43,138,62,0.08)';
      ctx.fillRect(m.pad.left, s.target.y1, m.width - m.pad.left - m.pad.right, s.target.y2 - s.target.y1);
    }
    ctx.globalAlpha = 0.25;
    ctx.fillStyle = color;
    s.bands.forEach(function (b) { ctx.fillRect(b.x - 4, b.yMax, 8, Math.max(2, b.yMin - b.yMax)); });
    ctx.globalAlpha = 1;
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    s.line.forEach(function (p, i) { if (i === 0) ctx.moveTo(p.x, p.y); else ctx.lineTo(p.x, p.y); });
    ctx.stroke();
    ctx.fillStyle = color;
    s.line.forEach(function (p) { ctx.beginPath(); ctx.arc(p.x, p.y, 3, 0, Math.PI * 2); ctx.fill(); });
  });
}

module.exports = { computeModel, draw, niceStep, COLORS };
