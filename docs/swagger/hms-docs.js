/*
 * hms-docs.js - starts Swagger UI on /api/schema/. A file of its own, not
 * an inline script, so that the page's Content-Security-Policy can say
 * script-src 'self' (deploy/nginx/hms.conf).
 *
 * "Authorize" takes the access token of POST /api/auth/token/ (the bearer
 * scheme of the document); "Try it out" then sends it on every call. The
 * token is kept in this tab's memory only (persistAuthorization off): a
 * shared ward computer must not keep it across a reload.
 */
"use strict";
window.addEventListener("load", function () {
	var root = document.getElementById("swagger-ui");
	window.ui = SwaggerUIBundle({
		url: root.getAttribute("data-schema-url"),
		dom_id: "#swagger-ui",
		deepLinking: true,
		docExpansion: "list",
		defaultModelsExpandDepth: 0,
		displayRequestDuration: true,
		showExtensions: true,
		persistAuthorization: false,
		tryItOutEnabled: false,
		/* No "validate with swagger.io" badge: it would send the document
		 * to an outside host. */
		validatorUrl: null,
		presets: [SwaggerUIBundle.presets.apis],
		layout: "BaseLayout"
	});
});
