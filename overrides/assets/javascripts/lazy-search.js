// Load the search index when a reader starts to search, not with every page.
//
// Material fetches search/search_index.json (the whole handbook's text in one language) as soon
// as a page loads. Most readers never search, and on a phone that is the largest download of a
// visit, so this holds the request back until the search field is opened, focused or called up
// from the keyboard. Material's own code runs unchanged; it only gets its index a little later.
(function () {
  var INDEX = /\/search\/search_index\.json$/;
  var open = XMLHttpRequest.prototype.open;
  var send = XMLHttpRequest.prototype.send;
  var waiting = [];
  var wanted = /[?&]q=/.test(location.search);

  function want() {
    if (wanted) return;
    wanted = true;
    waiting.splice(0).forEach(function (resume) { resume(); });
  }

  XMLHttpRequest.prototype.open = function (method, url) {
    this.deferUntilSearch = INDEX.test(String(url));
    return open.apply(this, arguments);
  };

  XMLHttpRequest.prototype.send = function () {
    var request = this;
    var args = arguments;
    if (request.deferUntilSearch && !wanted) {
      waiting.push(function () { send.apply(request, args); });
      return;
    }
    return send.apply(request, args);
  };

  document.addEventListener("focusin", function (event) {
    if (event.target.closest && event.target.closest(".md-search")) want();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("label[for='__search'], .md-search")) want();
  });
  document.addEventListener("keydown", function (event) {
    if (["f", "s", "/"].indexOf(event.key) >= 0) want();
  });
})();
