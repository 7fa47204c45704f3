// Pickup: the little the pages need beyond htmx. The city's clock comes from the live stream
// (`event: clock`), so countdowns follow the simulated clock of a played day too.
(function () {
  "use strict";
  var simNow = null; // milliseconds, the server's "now" at the last clock event
  var seenAt = null; // performance.now() when it arrived

  function nowMs() {
    if (simNow === null) return Date.now();
    return simNow + (performance.now() - seenAt);
  }

  function remaining(ms, el) {
    var sign = ms < 0 ? "-" : "";
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var h = Math.floor(minutes / 60), m = minutes % 60;
    var hu = el.getAttribute("data-h") || "h", mu = el.getAttribute("data-min") || "min";
    return sign + (h ? h + " " + hu + " " : "") + m + " " + mu;
  }

  function tick() {
    var now = nowMs();
    document.querySelectorAll("[data-until]").forEach(function (el) {
      var until = Date.parse(el.getAttribute("data-until"));
      if (isNaN(until)) return;
      var ms = until - now;
      el.textContent = remaining(ms, el);
      el.classList.toggle("past", ms < 0);
      el.classList.toggle("soon", ms >= 0 && ms < 15 * 60000);
    });
  }

  document.addEventListener("htmx:sseMessage", function (evt) {
    if (!evt.detail || evt.detail.type !== "clock") return;
    try {
      var data = JSON.parse(evt.detail.data);
      simNow = Date.parse(data.utc);
      seenAt = performance.now();
      document.querySelectorAll("[data-clock]").forEach(function (el) { el.textContent = data.local; });
      tick();
    } catch (e) { /* a malformed frame is ignored; the next one comes in a second */ }
  });
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
