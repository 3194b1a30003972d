// Client-generated ids: idempotency keys for readings and client_msg_id for messages.
// The server accepts 1–64 characters of [A-Za-z0-9_.:-].
let counter = 0;

function randomPart(n) {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

function newId(prefix) {
  counter = (counter + 1) % 1679616;
  return (prefix || 'c') + '-' + Date.now().toString(36) + '-' + counter.toString(36) + '-' + randomPart(10);
}

const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

module.exports = { newId, ID_PATTERN };
