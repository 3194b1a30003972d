// CarePath desk: live updates without a reload. One WebSocket to /api/v1/ws
// (the session cookie authenticates it); on a new message, read receipt,
// inbox change or alert, the page's [data-refresh] fragments are fetched
// again from the server and swapped in. No framework, no inline script
// (the Content-Security-Policy allows only 'self').
(function () {
  "use strict";
  var live = document.getElementById("live");
  var page = document.querySelector("[data-patient]");
  var patientID = page ? page.getAttribute("data-patient") : "";
  var lastSeq = page ? parseInt(page.getAttribute("data-last-seq") || "0", 10) : 0;
  var backoff = 1000, pending = null;

  function refresh() {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      fetch(location.pathname + location.search, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (res) {
          if (res.redirected && res.url.indexOf("/admin/login") >= 0) {
            location.href = "/admin/login?expired=1";
            return null;
          }
          return res.ok ? res.text() : null;
        })
        .then(function (html) {
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-refresh]").forEach(function (el) {
            var next = doc.getElementById(el.id);
            if (next) el.replaceWith(document.importNode(next, true));
          });
          document.dispatchEvent(new CustomEvent("desk:refreshed"));
        })
        .catch(function () {});
    }, 150);
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws;
    try {
      ws = new WebSocket(proto + location.host + "/api/v1/ws", ["carepath.v1"]);
    } catch (e) {
      return;
    }
    ws.onopen = function () {
      backoff = 1000;
      if (live) live.className = "live on";
      if (patientID) ws.send(JSON.stringify({ type: "subscribe", patient_id: patientID, after_seq: lastSeq }));
    };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "message" || f.type === "alert" || f.type === "inbox") {
        if (f.message && f.message.seq > lastSeq) lastSeq = f.message.seq;
        refresh();
      }
    };
    ws.onclose = function (ev) {
      if (live) live.className = "live off";
      if (ev.code === 1008 || ev.code === 4401) { refresh(); return; }
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    };
  }
  // The thread opens at its newest message, and stays there when it grows.
  function scrollThread() {
    var list = document.getElementById("thread-list");
    if (list) list.scrollTop = list.scrollHeight;
  }
  // A form that cannot be undone (结案) asks first; the message is the form's data-confirm.
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute && ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  }, true);
  scrollThread();
  document.addEventListener("desk:refreshed", scrollThread);
  if ("WebSocket" in window) connect();
  window.carepathDesk = { refresh: refresh };
})();
