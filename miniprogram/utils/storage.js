// wx storage with JSON values and the 1 MB per key limit checked before writing.
const MAX_BYTES = 1024 * 1024;

function byteLength(str) {
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : (c >= 0xd800 && c <= 0xdbff) ? 2 : 3;
  }
  return n;
}

function get(key, fallback) {
  try {
    const v = wx.getStorageSync(key);
    return v === '' || v === undefined || v === null ? fallback : v;
  } catch (e) {
    return fallback;
  }
}

// set stores value; false when it would exceed the per-key limit or storage fails.
function set(key, value) {
  if (byteLength(JSON.stringify(value)) > MAX_BYTES - 1024) return false;
  try {
    wx.setStorageSync(key, value);
    return true;
  } catch (e) {
    return false;
  }
}

function remove(key) {
  try { wx.removeStorageSync(key); } catch (e) { /* nothing to remove */ }
}

module.exports = { get, set, remove, byteLength, MAX_BYTES };
