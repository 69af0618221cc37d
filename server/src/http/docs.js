// Starts Swagger UI on /docs, or says how to vendor its assets when they are missing.
if (window.SwaggerUIBundle) {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
} else {
  document.getElementById("assets-missing").hidden = false;
}
