// The drivers' app: every tap becomes an action with its own id, kept a few seconds for an
// undo, then queued in localStorage and sent in order; sent again after a lost network until
// the server answers (it applies each id once). Deposits wait for the locker's door event.
(() => {
  "use strict";
  const QUEUE_KEY = "pickup-driver-queue";
  const CACHE = "pickup-driver-v1";
  // A few seconds to undo a tap before it is sent (shorter when set on the device, as tests do).
  const UNDO_MS = Number(localStorage.getItem("pickup-driver-undo-ms")) || 4000;
  const text = JSON.parse(document.getElementById("driver-text").textContent);
  const routeId = Number(document.body.dataset.route || 0);
  const say = (template, values) =>
    template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? values[key] : ""));
  const clock = (iso) =>
    new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

  const loadQueue = () => JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]");
  const saveQueue = (queue) => localStorage.setItem(QUEUE_KEY, JSON.stringify(queue));

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // --- what the page shows ------------------------------------------------------------------

  function notice(message, code, detail) {
    const box = document.getElementById("driver-notice");
    box.textContent = message;
    if (code) {
      const small = document.createElement("div");
      small.className = "muted refusal-detail";
      small.textContent = `${code}: ${detail || ""}`;
      box.appendChild(small);
    }
    box.hidden = !message;
    if (message) box.scrollIntoView({ block: "nearest" });
  }

  const refusal = (code, detail) => notice(text[code] || text.refused, code || "?", detail);

  function buttonFor(action) {
    const parts = [`[data-act="${action.kind}"]`];
    if (action.stop_id) parts.push(`[data-stop="${action.stop_id}"]`);
    if (action.parcel_id) parts.push(`[data-parcel="${action.parcel_id}"]`);
    return document.querySelector(parts.join(""));
  }

  function showPending() {
    document.querySelectorAll(".pending-badge").forEach((el) => el.remove());
    const queue = loadQueue();
    for (const action of queue) {
      const button = buttonFor(action);
      if (!button) continue;
      const badge = document.createElement("span");
      badge.className = "badge s-late pending-badge";
      badge.textContent = say(text.pending, { time: clock(action.device_time) });
      const card = button.closest(".parcel-card");
      if (card) card.querySelector(".parcel-what").appendChild(badge);
      else button.insertAdjacentElement("afterend", badge);
    }
    const sync = document.getElementById("sync-badge");
    sync.hidden = queue.length === 0;
    sync.textContent = say(sync.dataset.label, { count: queue.length });
    document.getElementById("net-badge").hidden = navigator.onLine;
  }

  const PARCEL_KIND = { aboard: "assigned", waiting: "transit", deposited: "done", failed: "failed" };
  const STOP_KIND = { pending: "assigned", arrived: "transit", served: "done", failed: "failed" };
  const STOP_TEXT = { pending: text.planned, arrived: text.arrived, served: text.served, failed: text.stop_failed };

  function setBadge(el, kind, label) {
    if (!el || !label) return;
    el.className = `badge s-${kind}`;
    el.textContent = label;
  }

  let waiting = false;
  function applyState(state) {
    if (!state || state.route_id !== routeId) return;
    waiting = false;
    for (const stop of state.stops) {
      const eta = document.querySelector(`[data-stop-eta="${stop.id}"]`);
      if (eta) eta.textContent = stop.eta;
      setBadge(document.querySelector(`[data-stop-status="${stop.id}"]`), STOP_KIND[stop.status] || "stale", STOP_TEXT[stop.status]);
      for (const [parcelId, parcelState] of Object.entries(stop.parcels)) {
        waiting ||= parcelState === "waiting";
        setBadge(document.querySelector(`[data-parcel-state="${parcelId}"]`), PARCEL_KIND[parcelState] || "stale", text[parcelState]);
      }
    }
    if (state.status !== "published") {
      const check = document.getElementById("load-check");
      if (check) check.hidden = true;
    }
  }

  // --- taps, undo, the queue ----------------------------------------------------------------

  let undoTimer = null;
  let held = null;

  function commitHeld() {
    if (!held) return;
    const queue = loadQueue();
    queue.push(held);
    saveQueue(queue);
    held = null;
    document.getElementById("undo-bar").hidden = true;
    showPending();
    flush();
  }

  function tap(button) {
    commitHeld(); // a second tap sends the first one now
    const action = {
      id: newId(),
      kind: button.dataset.act,
      route_id: routeId,
      stop_id: Number(button.dataset.stop) || null,
      parcel_id: Number(button.dataset.parcel) || null,
      reason: null,
      device_time: new Date().toISOString(),
    };
    if (action.kind === "fail") {
      action.reason = button.closest(".fail-row").querySelector("select.reason").value;
    }
    held = action;
    notice("");
    const bar = document.getElementById("undo-bar");
    const label = document.getElementById("undo-text");
    let left = Math.ceil(UNDO_MS / 1000);
    const tick = () => {
      label.textContent = say(text.sending, { action: text[action.kind] || action.kind, seconds: left });
    };
    tick();
    bar.hidden = false;
    clearInterval(undoTimer);
    const sendAt = Date.now() + UNDO_MS;
    undoTimer = setInterval(() => {
      left = Math.ceil((sendAt - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(undoTimer);
        commitHeld();
      } else tick();
    }, Math.min(250, UNDO_MS));
  }

  document.getElementById("undo-button").addEventListener("click", () => {
    clearInterval(undoTimer);
    held = null;
    document.getElementById("undo-bar").hidden = true;
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-act]");
    if (button && !button.disabled) tap(button);
  });

  let flushing = false;
  async function flush() {
    if (flushing) return;
    flushing = true;
    try {
      for (let queue = loadQueue(); queue.length; queue = loadQueue()) {
        const action = queue[0];
        let response;
        try {
          response = await fetch("/driver/actions", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            credentials: "same-origin",
            body: JSON.stringify(action),
          });
        } catch (error) {
          break; // no network: stays queued, sent when it is back
        }
        if (response.status >= 500 || response.redirected || response.status === 401) break;
        const body = await response.json().catch(() => ({}));
        if (body.outcome === "refused") {
          refusal(body.error, body.message);
        } else if (!response.ok) {
          const detail = (body.detail && body.detail[0]) || {};
          refusal(detail.type || String(response.status), detail.msg);
        }
        applyState(body.state);
        saveQueue(loadQueue().filter((queued) => queued.id !== action.id));
        showPending();
      }
    } finally {
      flushing = false;
      showPending();
    }
  }

  async function refresh() {
    if (!routeId || !navigator.onLine || loadQueue().length) return;
    try {
      const response = await fetch(`/driver/route/${routeId}/state`, { credentials: "same-origin" });
      if (response.ok) applyState(await response.json());
    } catch (error) {
      /* offline: the next round */
    }
  }

  // --- the load check and the cache for the shift -------------------------------------------

  function loadCheck() {
    const ticks = [...document.querySelectorAll(".load-tick")];
    const start = document.querySelector("[data-needs-load-check]");
    if (!start) return;
    const update = () => {
      start.disabled = !ticks.every((tick) => tick.checked);
    };
    ticks.forEach((tick) => tick.addEventListener("change", update));
    update();
  }

  async function cacheShift() {
    if (!("caches" in window)) return;
    const urls = new Set([location.pathname, "/driver/", "/driver/app.js", "/driver/offline", "/static/pickup.css"]);
    document.querySelectorAll("a[data-precache]").forEach((a) => urls.add(a.getAttribute("href")));
    const cache = await caches.open(CACHE);
    await Promise.all(
      [...urls].map(async (url) => {
        try {
          const response = await fetch(url, { credentials: "same-origin" });
          if (response.ok && !response.redirected) await cache.put(url, response);
        } catch (error) {
          /* offline already: what is cached stays */
        }
      }),
    );
    document.body.dataset.cached = "yes";
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/driver/sw.js", { scope: "/driver/" }).catch(() => {});
  }
  window.addEventListener("online", () => {
    showPending();
    flush();
  });
  window.addEventListener("offline", showPending);
  loadCheck();
  showPending();
  if (navigator.onLine) cacheShift().then(flush);
  setInterval(flush, 5000);
  setInterval(() => {
    if (waiting || document.querySelector(".s-transit[data-parcel-state]")) refresh();
  }, 2000);
})();
