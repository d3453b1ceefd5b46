package dev.herald.server;

/** Why a subscription ended. Each subscription ends exactly once, with one of these. */
public enum CloseReason {
  /** The client went away, or the application closed the subscription. */
  CLIENT_CLOSED,
  /** The client read too slowly: its unsent bytes passed the per-stream limit. */
  SLOW_CONSUMER,
  /** Writing to the client failed. */
  WRITE_FAILED,
  /** A newer stream of the same device took its place. */
  REPLACED,
  /** The token that authorised it expired. */
  TOKEN_EXPIRED,
  /** The broker is shutting down. */
  SHUTDOWN,
  /** The store failed during replay, or another unexpected error. */
  ERROR
}
