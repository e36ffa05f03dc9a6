// bosun's web UI: the little that htmx does not do. No inline script anywhere (the
// Content-Security-Policy forbids it); this file and htmx are the only scripts.
(function () {
  "use strict";

  // A request that never reached the server (network down, server stopped) shows a
  // banner instead of failing silently. The server's own errors arrive as fragments.
  function banner(text) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    flash.textContent = text;
    flash.hidden = false;
  }
  document.addEventListener("htmx:sendError", function () {
    banner("bosun did not answer: check the connection and try again.");
  });
  // An answer htmx does not swap (the server shows its own errors in place with a
  // 200; a 4xx or 5xx here is a refusal before any page handler, such as an expired
  // form): say so rather than do nothing.
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail && e.detail.xhr;
    var status = xhr ? xhr.status : "?";
    banner("bosun refused the request (HTTP " + status + "): reload the page and try again.");
  });
  document.addEventListener("htmx:timeout", function () {
    banner("bosun took too long to answer; try again.");
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail && e.detail.successful) {
      var flash = document.getElementById("flash");
      if (flash) flash.hidden = true;
    }
  });

  // "Go to line N" links of editor diagnostics: select that line in the textarea.
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("[data-line]");
    if (!link) return;
    var area = document.getElementById("stackfile");
    if (!area) return;
    e.preventDefault();
    var line = parseInt(link.getAttribute("data-line"), 10) || 1;
    var lines = area.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    var end = start + (lines[line - 1] || "").length;
    area.focus();
    area.setSelectionRange(start, end);
  });
})();
