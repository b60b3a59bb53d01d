// Package web is the analyst console: a single-page application written as
// plain ES modules (no build step), embedded in the binary with go:embed and
// served under /ui/ by Handler. It talks to the API over HTTP only, on the
// same origin, with the HttpOnly session cookie that POST /api/v1/login sets,
// and it never shows a control the caller's role (GET /api/v1/me) may not use.
//
// # Layout
//
//	static/index.html        the HTML shell; %ASSETS% is replaced by the asset prefix
//	static/css/app.css       the dark SOC theme and its light alternative
//	static/js/main.js        boot, session, navigation shell, client-side router
//	static/js/lib/*.js       DOM builder, API client (with the SSE stream), charts, formats
//	static/js/views/*.js     one module per screen
//	static/vendor/           third-party built files, committed (see below)
//
// # Serving
//
// Every path under /ui/ that is not an asset answers index.html, so that every
// client-side route (and every filter state, kept in the URL) is a deep link.
// Assets are served under /ui/assets/<hash>/, where <hash> is a digest of
// the whole static tree: they are cached for a year as immutable, and a new
// build changes every asset URL at once. Every response carries an ETag;
// text assets are sent gzip-compressed to clients that accept it.
// POST /ui/logout clears the session cookie. Register mounts it all on a
// ServeMux with method-specific patterns.
//
// # Vendored files
//
// The only third-party code is a custom build of Apache ECharts (bar and line
// charts, grid, tooltip, legend; Apache-2.0, with ZRender, BSD-3-Clause) in
// static/vendor/, pinned and refreshed by scripts/web-vendor.sh, which needs
// node and npm and is run by hand; VERSIONS.txt there names the versions.
// There is no world map of sources: ECharts no longer ships map data, and the
// API gives no geolocation of source addresses to place on one.
//
// # Screens
//
//	/ui/                situation (national picture, live); /ui/?wall=1 for a wall screen
//	/ui/alerts          alert queue: filters, sort, bulk triage, keys j k x a c m / Enter ?
//	/ui/alerts/{id}     alert detail: rule and Sigma source, event fields as pivots, related
//	                    alerts, comments, audit trail, triage controls
//	/ui/search          investigation: time range, field filters, free text, histogram, columns
//	/ui/orgs, /ui/orgs/{id}  organisations and sectors: alert load, data freshness
//	/ui/rules           rules with hits, per-organisation switch
//	/ui/admin           users, tokens, organisations (national admin)
//
// Each screen asks the API for what it shows; where an endpoint answers 404
// (a server without it), the screen says "not available" or, for the
// figures, estimates them from the alert list and says so.
//
// # Tests
//
// web_test.go checks the handler. The browser tests are in
// internal/app/console_test.go: they start the demo and drive Debian's
// Chromium (scripts/install-test-deps.sh installs it) with chromedp:
//
//	go test ./internal/app -run TestConsole -v
//	go test ./internal/app -run TestConsole -artifacts -outputdir DIR   # keep the screenshots in DIR/_artifacts
//	go test ./internal/app -run TestConsole -update-screenshots         # refresh docs/screenshots
//
// # Developing
//
// The files are read from the embedded copy; to edit them with a reload instead
// of a rebuild, serve the console from disk in front of a running server:
//
//	MAMORI_WEB_DEV=127.0.0.1:8090 MAMORI_WEB_API=http://127.0.0.1:8080 \
//	  go test ./internal/web -run TestDevServer -timeout 0
package web
