// Baton's service worker: the app shell is precached at install, so the app starts and works
// with no network at all. The API is never cached: custody data lives in IndexedDB, not here.
//
// Versioning: the build stamps BUILD_ID (public/stamp-sw.sh), so each build is a new worker with
// its own cache. A new worker waits until no page uses the old one; it never swaps the code under
// a handoff in progress.
const BUILD_ID = "__BATON_BUILD_ID__";
const CACHE_PREFIX = "baton-shell-";
const CACHE_NAME = CACHE_PREFIX + BUILD_ID;
// The dashboard is its own online-only build (dist/dashboard): never the tablet's shell.
const NEVER_CACHED = ["/api/", "/healthz", "/readyz", "/dashboard"];

// Every same-origin asset index.html names: the hashed js, wasm and css, the manifest, icons.
function assetUrls(indexHtml) {
  const urls = new Set(["/index.html"]);
  const pattern = /["'](\/[^"'\s]+\.(?:js|wasm|css|png|svg|webmanifest))["']/g;
  for (const match of indexHtml.matchAll(pattern)) {
    urls.add(match[1]);
  }
  return [...urls];
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const response = await fetch("/index.html", { cache: "reload" });
      if (!response.ok) {
        throw new Error(`precache: /index.html answered ${response.status}`);
      }
      const indexHtml = await response.clone().text();
      const cache = await caches.open(CACHE_NAME);
      await cache.put("/index.html", response);
      const others = assetUrls(indexHtml).filter((url) => url !== "/index.html");
      await cache.addAll(others.map((url) => new Request(url, { cache: "reload" })));
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME) {
          await caches.delete(name);
        }
      }
      // Take control of the page that installed us, so the very first visit works offline.
      await self.clients.claim();
    })(),
  );
});

// The page asks for the update when no handoff is in progress.
self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "SKIP_WAITING") {
    self.skipWaiting();
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) {
    return;
  }
  if (NEVER_CACHED.some((prefix) => url.pathname.startsWith(prefix))) {
    return;
  }
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE_NAME);
      if (request.mode === "navigate") {
        // Every route of the app is the same shell; the router draws the page.
        const shell = await cache.match("/index.html");
        return shell || fetch(request);
      }
      const cached = await cache.match(request);
      return cached || fetch(request);
    })(),
  );
});
