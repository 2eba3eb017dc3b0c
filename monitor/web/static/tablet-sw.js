// The staff tablet's service worker: the page and its files from the network when it answers,
// else from the cache, so a reload or a tablet restart while offline still opens the tablet.
// Live data (/tablet/state) and every POST go to the network only; tablet.js queues what fails.
"use strict";
const CACHE = "smartmon-tablet-v1";
const PAGE = "/tablet";
const FILES = [PAGE, "/assets/tablet.js", "/assets/tablet.css", "/assets/tablet.webmanifest", "/assets/tablet-icon.svg"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  const stored = url.pathname === PAGE ? PAGE : FILES.includes(url.pathname) ? url.pathname : null;
  if (!stored) return;
  event.respondWith(fetch(request).then((response) => {
    // A redirect (to /login when signed out) or an error page must not replace the tablet.
    if (response.ok && !response.redirected && response.type === "basic") {
      const copy = response.clone();
      event.waitUntil(caches.open(CACHE).then((cache) => cache.put(stored, copy)));
    }
    return response;
  }).catch(() => caches.match(stored, {ignoreVary: true}).then((hit) => hit || Response.error())));
});
