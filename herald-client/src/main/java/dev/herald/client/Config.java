package dev.herald.client;

import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;

/** An {@link EventSource}'s immutable configuration, as its builder left it. */
record Config(
    URI uri,
    String method,
    byte[] body,
    List<Map.Entry<String, String>> headers,
    String lastEventId,
    Duration reconnectionTime,
    Duration maxReconnectionDelay,
    Duration backoffResetAfter,
    Duration readTimeout,
    int maxEventBytes,
    HttpClient httpClient,
    Executor executor,
    ErrorPolicy errorPolicy,
    EventSourceListener listener) {

  /** Whether the caller set a header of this name (any case). */
  boolean hasHeader(String name) {
    for (Map.Entry<String, String> header : headers) {
      if (header.getKey().equalsIgnoreCase(name)) {
        return true;
      }
    }
    return false;
  }
}
