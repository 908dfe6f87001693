// Package dashboardtest drives the dashboard in a real browser for tests:
// Browser starts Debian's headless Chromium through chromedp, with the
// flags this machine kind needs, and records what the page logs.
package dashboardtest
