// The drivers' app service worker (scope /driver/): pages and the app's files come from the
// network when there is one (and are kept), from the phone's cache when there is none, and a
// page never kept falls back to /driver/offline. Actions (POST) are never cached: the page
// queues them and sends them again (each has its own id, applied once by the server).
const CACHE = "pickup-driver-v1";
const SHELL = ["/driver/offline", "/static/pickup.css"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

function kept(url) {
  return url.origin === self.location.origin && (url.pathname.startsWith("/driver") || url.pathname.startsWith("/static/"));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || !kept(url) || url.pathname.endsWith("/state")) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(request);
        if (response.ok && !response.redirected) await cache.put(url.pathname, response.clone());
        return response;
      } catch (error) {
        const cached = await cache.match(url.pathname);
        if (cached) return cached;
        if (request.mode === "navigate") {
          const offline = await cache.match("/driver/offline");
          if (offline) return offline;
        }
        throw error;
      }
    })(),
  );
});
