// Starts ReDoc on /redoc (a served file: the Content-Security-Policy allows no inline
// script). The OpenAPI document's URL comes from the page's data-openapi-url attribute.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("redoc");
  Redoc.init(
    root.getAttribute("data-openapi-url"),
    { hideDownloadButton: false, expandResponses: "200,201,202" },
    root
  );
});
