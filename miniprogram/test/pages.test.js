// Static checks of the mini-program package: every page declared in app.json has its four
// files, every event handler named in WXML exists in the page, every endpoint a page calls
// is declared in utils/endpoints.js, and no source logs with console.log (tokens and
// health values must never reach a log).
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const app = JSON.parse(fs.readFileSync(path.join(root, 'app.json'), 'utf8'));
const E = require('../utils/endpoints');

function sources(dir) {
  const out = [];
  fs.readdirSync(dir, { withFileTypes: true }).forEach((d) => {
    if (['node_modules', 'test', 'scripts', '.git', 'vendor'].indexOf(d.name) >= 0) return; // vendor: third-party, checked in qrcode.test.js
    const p = path.join(dir, d.name);
    if (d.isDirectory()) out.push(...sources(p));
    else if (/\.(js|wxml|wxss|json)$/.test(d.name) && !/package(-lock)?\.json$/.test(d.name)) out.push(p);
  });
  return out;
}

describe('mini-program package', () => {
  test('app.json, project.config.json and sitemap.json are valid; appid is a placeholder', () => {
    const pc = JSON.parse(fs.readFileSync(path.join(root, 'project.config.json'), 'utf8'));
    expect(pc.appid).toMatch(/^wx0+$/);
    expect(JSON.parse(fs.readFileSync(path.join(root, 'sitemap.json'), 'utf8')).rules[0].action).toBe('disallow');
    expect(app.pages.length).toBeGreaterThanOrEqual(14);
    app.tabBar.list.forEach((t) => expect(app.pages).toContain(t.pagePath));
  });

  test.each(app.pages)('%s has .js .wxml .wxss .json and its handlers exist', (page) => {
    ['.js', '.wxml', '.wxss', '.json'].forEach((ext) => expect(fs.existsSync(path.join(root, page + ext))).toBe(true));
    JSON.parse(fs.readFileSync(path.join(root, page + '.json'), 'utf8'));
    const wxml = fs.readFileSync(path.join(root, page + '.wxml'), 'utf8');
    const js = fs.readFileSync(path.join(root, page + '.js'), 'utf8');
    const handlers = new Set();
    wxml.replace(/\b(?:bind|catch)[a-z]+="([A-Za-z_]\w*)"/g, (_, h) => handlers.add(h));
    handlers.forEach((h) => expect([h, new RegExp('\\b' + h + '\\s*\\(').test(js)]).toEqual([h, true]));
    // balanced tags (a cheap guard against broken WXML)
    const opens = (wxml.match(/<(view|block|button|picker|scroll-view|checkbox-group|label|text)((\s(\{\{[^}]*\}\}|[^>{])*)?)>/g) || [])
      .filter((t) => !/\/>$/.test(t)).length;
    const closes = (wxml.match(/<\/(view|block|button|picker|scroll-view|checkbox-group|label|text)>/g) || []).length;
    expect(closes).toBe(opens);
  });

  test('the family accept page is where the server sends invitation QR codes', () => {
    expect(app.pages).toContain('pages/family/accept'); // internal/family AcceptPage
  });

  test('subscription template kinds in config.js are the server push kinds; push cards open existing pages', () => {
    const yaml = require('js-yaml');
    const reg = yaml.load(fs.readFileSync(path.join(root, '..', 'configs', 'notify', 'templates.yaml'), 'utf8')).templates;
    const config = require('../config');
    // reporting_reminder is added to templates.yaml by another branch; the app asks for it already
    const kinds = Array.from(new Set(Object.keys(reg).concat(['reporting_reminder']))).sort();
    expect(Object.keys(config.templates).sort()).toEqual(kinds);
    ['stage_begins', 'appointment_reminder', 'cm_message', 'questionnaire_due', 'education_ready', 'reading_attention']
      .forEach((k) => expect(Object.keys(reg)).toContain(k));
    Object.keys(reg).forEach((k) => {
      const page = reg[k].page.split('?')[0];
      expect([k, page, app.pages.indexOf(page) >= 0]).toEqual([k, page, true]);
      if (/\?/.test(reg[k].page)) { // ?patient={patient_id}: the page selects that record
        const js = fs.readFileSync(path.join(root, page + '.js'), 'utf8');
        expect([k, /preferPatient\(q && q\.patient\)/.test(js)]).toEqual([k, true]);
      }
    });
  });

  test('every subscribe.ask names configured push kinds', () => {
    const config = require('../config');
    sources(root).filter((f) => f.endsWith('.js')).forEach((f) => {
      const src = fs.readFileSync(f, 'utf8');
      src.replace(/subscribe\.ask\(api, \[([^\]]*)\]/g, (_, list) => {
        list.split(',').map((x) => x.trim().replace(/'/g, '')).forEach((k) => expect([path.relative(root, f), k, k in config.templates]).toEqual([path.relative(root, f), k, true]));
      });
      src.replace(/const KINDS = \[([^\]]*)\]/g, (_, list) => {
        list.split(',').map((x) => x.trim().replace(/'/g, '')).forEach((k) => expect([path.relative(root, f), k, k in config.templates]).toEqual([path.relative(root, f), k, true]));
      });
    });
  });

  test('pages call only declared endpoints', () => {
    sources(root).filter((f) => f.endsWith('.js')).forEach((f) => {
      const src = fs.readFileSync(f, 'utf8');
      src.replace(/request\('([A-Za-z]+)'/g, (_, name) => { expect([path.relative(root, f), name, !!E[name]]).toEqual([path.relative(root, f), name, true]); });
    });
  });

  test('no console.log anywhere in the shipped code', () => {
    sources(root).filter((f) => f.endsWith('.js')).forEach((f) => {
      expect([path.relative(root, f), /console\.(log|info|debug)\(/.test(fs.readFileSync(f, 'utf8'))]).toEqual([path.relative(root, f), false]);
    });
  });

  test('the API base URL and socket URL are configured only in config.js', () => {
    sources(root).filter((f) => f.endsWith('.js') && !f.endsWith('config.js')).forEach((f) => {
      expect([path.relative(root, f), /(https?|wss?):\/\//.test(fs.readFileSync(f, 'utf8'))]).toEqual([path.relative(root, f), false]);
    });
  });
});
