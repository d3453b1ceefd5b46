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
  PRESENCE
}
