// Swagger UI over the app's own OpenAPI (a file, not an inline script: the CSP allows none).
window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });
