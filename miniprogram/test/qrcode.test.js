// Invitation QR codes: the vendored generator is the pinned npm package, and what the
// family page draws on its canvas decodes (with jsQR, a real decoder) to the text the
// accept page understands.
const fs = require('fs');
const path = require('path');
const jsQR = require('jsqr');

// A canvas 2D context that rasterises fillRect into RGBA pixels, as the real canvas does.
function rasterCtx(px) {
  const data = new Uint8ClampedArray(px * px * 4); // transparent black
  const ctx = {
    fillStyle: '#000000',
    fillRect(x, y, w, h) {
      const v = ctx.fillStyle === '#ffffff' ? 255 : 0;
      for (let j = Math.max(0, y); j < Math.min(px, y + h); j++) {
        for (let i = Math.max(0, x); i < Math.min(px, x + w); i++) {
          const k = (j * px + i) * 4;
          data[k] = data[k + 1] = data[k + 2] = v; data[k + 3] = 255;
        }
      }
    }
  };
  return { ctx, data };
}

function fresh(configPatch) {
  jest.resetModules();
  const config = require('../config');
  Object.assign(config, configPatch || {});
  return require('../utils/qr');
}

const CODE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.slice(0, 20) + '234567';

describe('invitation QR code', () => {
  test('the vendored qrcode-generator is the pinned 1.4.4 package, unmodified', () => {
    const pkg = require('qrcode-generator/package.json');
    expect(pkg.version).toBe('1.4.4');
    const vendored = fs.readFileSync(path.join(__dirname, '..', 'utils', 'vendor', 'qrcode-generator.js'), 'utf8');
    const original = fs.readFileSync(require.resolve('qrcode-generator/qrcode.js'), 'utf8');
    expect(vendored.split('\n').slice(3).join('\n')).toBe(original);
  });

  test.each([
    ['without a link prefix', {}, 'CAREPATH-INVITE:' + CODE],
    ['with the hospital link prefix', { inviteQrBase: 'https://carepath.hospital.example/invite/' }, 'https://carepath.hospital.example/invite/' + CODE]
  ])('what the family page draws decodes to the invitation (%s)', (_, cfg, want) => {
    const qr = fresh(cfg);
    const px = 480;
    const { ctx, data } = rasterCtx(px);
    const drawn = qr.draw(ctx, qr.inviteText(CODE), px);
    expect(drawn.cell).toBeGreaterThanOrEqual(3);
    const got = jsQR(data, px, px);
    expect(got).not.toBeNull();
    expect(got.data).toBe(want);
    expect(qr.inviteCodeFrom(got.data)).toBe(CODE); // and the accept page reads the code back
  });

  test('a drawing that is damaged does not decode to the invitation', () => {
    const qr = fresh();
    const px = 240;
    const { ctx, data } = rasterCtx(px);
    qr.draw(ctx, qr.inviteText(CODE), px);
    for (let k = 0; k < data.length / 2; k += 4) data[k] = data[k + 1] = data[k + 2] = 255; // wipe the top half
    const got = jsQR(data, px, px);
    expect(got === null || got.data !== qr.inviteText(CODE)).toBe(true);
  });

  test('the accept page finds the code in a scan, a link (?q=) or typed text', () => {
    const qr = fresh();
    expect(qr.inviteCodeFrom('CAREPATH-INVITE:' + CODE)).toBe(CODE);
    expect(qr.inviteCodeFrom(encodeURIComponent('https://h.example/invite/' + CODE))).toBe(CODE);
    expect(qr.inviteCodeFrom('https://h.example/i?code=' + CODE.toLowerCase())).toBe(CODE);
    expect(qr.inviteCodeFrom(CODE.replace(/(.{4})/g, '$1 '))).toBe(CODE);
    expect(qr.inviteCodeFrom('https://example.com/something-else')).toBe('');
    expect(qr.inviteCodeFrom('')).toBe('');
  });
});
