// Renders a real page (its WXML and its Page() definition) with miniprogram-simulate's
// pure-JS compiler in jsdom: page methods run against the fake `wx` and a fake getApp().
const fs = require('fs');
const path = require('path');
const simulate = require('miniprogram-simulate');

const root = path.join(__dirname, '..', '..');

function loadPage(page, app, me) {
  let def = null;
  global.Page = (d) => { def = d; };
  global.getApp = () => app;
  jest.isolateModules(() => {
    if (me) require(path.join(root, 'utils', 'session')).set(me); // the page's own module instance
    require(path.join(root, page + '.js'));
  });
  const methods = {};
  Object.keys(def).forEach((k) => { if (typeof def[k] === 'function') methods[k] = def[k]; });
  const id = simulate.load({
    template: fs.readFileSync(path.join(root, page + '.wxml'), 'utf8'),
    data: JSON.parse(JSON.stringify(def.data || {})),
    methods
  }, { compiler: 'simulate' });
  const comp = simulate.render(id);
  comp.attach(document.createElement('parent-wrapper'));
  return { comp, page: comp.instance, def };
}

function text(comp) { return comp.dom.textContent.replace(/\s+/g, ' ').trim(); }

module.exports = { loadPage, text, simulate };
