// devModeActive: config.devMode, but never in a released build (a safety net in case
// an uploaded package still has devMode: true).
const config = require('../config');

function envVersion() {
  try {
    if (typeof wx !== 'undefined' && wx.getAccountInfoSync) return wx.getAccountInfoSync().miniProgram.envVersion || '';
  } catch (e) { /* not available */ }
  return '';
}

function devModeActive() { return !!config.devMode && envVersion() !== 'release'; }

module.exports = { devModeActive, envVersion };
