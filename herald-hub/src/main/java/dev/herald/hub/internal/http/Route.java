package dev.herald.hub.internal.http;

/** The endpoints of the hub's HTTP API (v1). */
public enum Route {
  /** {@code POST /events}. */
  PUBLISH,
  /** {@code GET /events}. */
  SUBSCRIBE,
  /** {@code GET /healthz}. */
  HEALTH,
  /** {@code GET /readyz}. */
  READY,
  /** {@code GET /metrics}. */
  METRICS,
  /** {@code GET /presence}. */
  PRESENCE,
  /** {@code GET /stats}: the live numbers the console shows, as JSON. */
  STATS,
  /** {@code GET /} and {@code GET /console/<file>}: the web console's static files. */
  CONSOLE
}
