// The handbook offline: one worker per language, at the top of that language's folder.
// hooks/offline.py fills in the values between the markers at every build; VERSION is a hash of
// the precached files, so a new build gives a new worker, which the browser then installs.
//
// - Install: every page of the language, its search index and the assets it needs go into a cache
//   named after the version. Registration waits for the page's load event (handbook.js).
// - Activate: caches of older versions of this language are deleted.
// - Fetch: the language's pages and assets come from the cache first. Form pages always come
//   from the network; only when it cannot be reached does the reader get the cached copy, where
//   handbook.js says the form cannot be sent now. The default language's worker leaves the other
//   languages' folders alone: their own workers handle them.
"use strict";

/* build values */
var VERSION = "";
var LANGUAGE = "";
var FILES = [];
var FORMS = [];
var OTHER_LANGUAGES = [];
/* end of build values */

var PREFIX = "handbook-" + LANGUAGE + "-";
var CACHE = PREFIX + VERSION;
var SCOPE = new URL("./", self.location).pathname;

function absolute(relative) {
  return new URL(relative, self.location).href;
}

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      // "no-cache": revalidate with the server instead of taking an hour-old copy from the HTTP cache.
      return cache.addAll(FILES.map(function (file) { return new Request(absolute(file), { cache: "no-cache" }); }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (name) {
        return name.indexOf(PREFIX) === 0 && name !== CACHE;
      }).map(function (name) { return caches.delete(name); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function inFolder(path, folders) {
  return folders.some(function (folder) { return path.indexOf(SCOPE + folder) === 0; });
}

function fromCache(request, options) {
  return caches.open(CACHE).then(function (cache) { return cache.match(request, options); });
}

function formPage(path) {
  // The cached copy of the form this URL belongs to (a receipt or link page falls back to its form).
  var form = FORMS.filter(function (folder) { return path.indexOf(SCOPE + folder) === 0; })[0];
  return fromCache(absolute(form));
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  var path = url.pathname;
  if (inFolder(path, OTHER_LANGUAGES)) return;
  if (inFolder(path, FORMS)) {
    event.respondWith(fetch(request).catch(function (error) {
      // Only a page gets the form's page; anything else under a form's folder (the language
      // selector's sitemap.xml, say) fails as it would without the worker.
      if (request.mode !== "navigate") throw error;
      return formPage(path).then(function (page) {
        if (page) return page;
        throw error;
      });
    }));
    return;
  }
  event.respondWith(
    fromCache(request, { ignoreSearch: request.mode === "navigate" }).then(function (cached) {
      return cached || fetch(request);
    })
  );
});
