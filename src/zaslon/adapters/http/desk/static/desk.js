// Zaslon desk: live updates and keyboard shortcuts. Server-sent events from /desk/events say what changed;
// htmx re-fetches the parts of the page that listen for it (hx-trigger="desk:order from:body" and the like).
(function () {
  "use strict";
  function start() {
    if (document.body.dataset.live !== "1" || !window.EventSource) return;
    var live = document.getElementById("live");
    var source = new EventSource("/desk/events");
    var hellos = 0;
    source.addEventListener("hello", function () {
      if (live) live.textContent = "● live";
      // A stream lasts 30 s; after a reconnect refresh everything, in case something changed in between.
      if (hellos++ > 0) ["incident", "order", "alert"].forEach(function (k) { htmx.trigger(document.body, "desk:" + k, {}); });
    });
    source.addEventListener("pulse", function (ev) {
      var data = JSON.parse(ev.data);
      (data.changed || []).forEach(function (kind) { htmx.trigger(document.body, "desk:" + kind, data); });
      if (live) live.textContent = "● " + new Date().toLocaleTimeString();
    });
    source.onerror = function () { if (live) live.textContent = "○"; };
  }
  // Keyboard: "n" takes the next incident, "/" goes to the filter, "g q" / "g o" go to queue and orders.
  var pending = null;
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA") || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (pending === "g") {
      pending = null;
      if (ev.key === "q") location.href = "/desk/queue";
      if (ev.key === "o") location.href = "/desk/orders";
      if (ev.key === "c") location.href = "/desk/couriers";
      return;
    }
    if (ev.key === "g") { pending = "g"; return; }
    if (ev.key === "n") { var b = document.getElementById("take-next"); if (b) { ev.preventDefault(); b.click(); } }
    if (ev.key === "/") { var f = document.getElementById("scheme-filter"); if (f) { ev.preventDefault(); f.focus(); } }
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
