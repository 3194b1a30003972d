// QR codes for family invitations, drawn by the app itself (canvas 2D) with the vendored
// qrcode-generator. What the code holds:
//   - config.inviteQrBase + code, when the hospital has set up 扫普通链接二维码打开小程序
//     (mini-program admin console → 开发管理 → 扫普通链接二维码打开小程序, rule prefix =
//     inviteQrBase, page = pages/family/accept): WeChat's own scanner then opens the
//     accept page with ?q=<the URL>;
//   - otherwise 'CAREPATH-INVITE:' + code, read by the accept page's 扫码 button.
// The server's official mini-program code (wxacode, scene = code) opens the same page.
const config = require('../config');
const qrcode = require('./vendor/qrcode-generator');

const PREFIX = 'CAREPATH-INVITE:';
const CODE_RE = /[A-Z2-7]{26}/g;

function inviteText(code) {
  const base = config.inviteQrBase || '';
  return base ? base + encodeURIComponent(code) : PREFIX + code;
}

// inviteCodeFrom finds the 26-character invitation code in what a scan or a link gave:
// our text, the configured URL, or a bare code (spaces and lower case tolerated).
function inviteCodeFrom(text) {
  if (!text) return '';
  let s = String(text);
  try { s = decodeURIComponent(s); } catch (e) { /* keep as is */ }
  const tail = s.replace(/^.*[:/=?&]/, '').replace(/\s+/g, '').toUpperCase();
  if (/^[A-Z2-7]{26}$/.test(tail)) return tail;
  const all = s.replace(/\s+/g, '').toUpperCase().match(CODE_RE);
  return all ? all[all.length - 1] : '';
}

// matrix: the QR modules for text (error correction M, smallest version that fits).
function matrix(text) {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  return { size: n, dark: function (r, c) { return qr.isDark(r, c); } };
}

// draw paints the code on a canvas 2D context: white square of `px` pixels with a 4-module
// quiet zone, dark modules as whole-pixel squares (sharp edges scan best).
function draw(ctx, text, px) {
  const m = matrix(text);
  const cells = m.size + 8;
  const cell = Math.max(1, Math.floor(px / cells));
  const offset = Math.floor((px - cell * cells) / 2) + 4 * cell;
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, px, px);
  ctx.fillStyle = '#000000';
  for (let r = 0; r < m.size; r++) {
    for (let c = 0; c < m.size; c++) {
      if (m.dark(r, c)) ctx.fillRect(offset + c * cell, offset + r * cell, cell, cell);
    }
  }
  return { modules: m.size, cell: cell };
}

module.exports = { inviteText, inviteCodeFrom, matrix, draw, PREFIX };
