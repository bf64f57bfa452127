// Starts Swagger UI on /docs (a served file: the Content-Security-Policy allows no inline
// script). The OpenAPI document's URL comes from the page's data-openapi-url attribute.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    showExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [],
    layout: "BaseLayout",
    validatorUrl: null,
  });
});
