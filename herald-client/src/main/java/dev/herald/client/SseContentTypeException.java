package dev.herald.client;

import java.net.URI;
import java.net.http.HttpHeaders;
import java.util.Optional;

/**
 * The server answered 200 but not with {@code text/event-stream}: the URI is probably not an event
 * stream at all (a login page, a JSON API, a proxy's error page). By default the source closes.
 */
public final class SseContentTypeException extends SseHttpException {
  private static final long serialVersionUID = 1L;

  private final String contentType;

  SseContentTypeException(String message, int statusCode, HttpHeaders headers, URI uri) {
    super(message, statusCode, headers, uri, "");
    this.contentType = headers.firstValue("Content-Type").orElse(null);
  }

  /** The {@code Content-Type} the server sent; empty when it sent none. */
  public Optional<String> contentType() {
    return Optional.ofNullable(contentType);
  }
}
