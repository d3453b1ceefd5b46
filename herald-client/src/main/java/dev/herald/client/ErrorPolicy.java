package dev.herald.client;

import java.time.Duration;
import java.util.Optional;

/**
 * Decides what an {@link EventSource} does after a connection fails or ends: reconnect after a
 * delay, or close for good.
 *
 * <p>It is asked about every failure: the stream ending ({@link java.io.EOFException}), network
 * errors ({@link java.io.IOException}), the read timeout ({@link
 * java.net.http.HttpTimeoutException}), an event over the size limit ({@link
 * dev.herald.core.SseLimitExceededException}) and unusable responses ({@link SseHttpException},
 * {@link SseContentTypeException}). A 204 No Content and {@link EventSource#close()} close the
 * source without asking.
 *
 * <pre>{@code
 * // Keep trying whatever happens, but never faster than once a second.
 * ErrorPolicy stubborn = (error, delay) ->
 *     Optional.of(delay.compareTo(Duration.ofSeconds(1)) < 0 ? Duration.ofSeconds(1) : delay);
 * }</pre>
 *
 * <p>Called on the source's callback thread; it should answer quickly and must not block.
 */
@FunctionalInterface
public interface ErrorPolicy {
  /**
   * Returns how long to wait before reconnecting, or empty to close the source.
   *
   * @param error why the connection failed or ended
   * @param delay the delay the source would use: the server's {@code Retry-After} if it sent one,
   *     otherwise the exponential backoff from the reconnection time, with jitter, capped
   * @return the delay to wait (negative counts as zero), or empty to close the source
   */
  Optional<Duration> retryDelay(Throwable error, Duration delay);

  /**
   * The default policy. Closes the source on a response that is not an event stream: every 4xx
   * status (408 Request Timeout and 429 Too Many Requests included, as the WHATWG standard fails
   * the connection on any status but 200), a redirect that cannot be followed, any other status
   * that is not 5xx, and a wrong or missing content type. Reconnects after {@code delay} on
   * everything else: 5xx (honouring {@code Retry-After}), network errors, timeouts and the end of
   * the stream.
   *
   * @see #retryingThrottled()
   */
  static ErrorPolicy standard() {
    return ErrorPolicy::standardDelay;
  }

  /**
   * The {@linkplain #standard() standard} policy that also reconnects after a 408 Request Timeout
   * or a 429 Too Many Requests, waiting the {@code Retry-After} the server asked for (or the
   * backoff when it sent none), for servers that throttle subscribers that way. Every other 4xx
   * still closes the source.
   *
   * <pre>{@code
   * EventSource source = EventSource.builder(uri)
   *     .errorPolicy(ErrorPolicy.retryingThrottled())
   *     .listener(event -> ...)
   *     .build();
   * }</pre>
   */
  static ErrorPolicy retryingThrottled() {
    return (error, delay) -> {
      if (error instanceof SseHttpException http
          && (http.statusCode() == 408 || http.statusCode() == 429)) {
        // The delay is the server's Retry-After when it sent one: see retryDelay.
        return Optional.of(delay);
      }
      return standardDelay(error, delay);
    };
  }

  private static Optional<Duration> standardDelay(Throwable error, Duration delay) {
    if (error instanceof SseContentTypeException) {
      return Optional.empty();
    }
    if (error instanceof SseHttpException) {
      return ((SseHttpException) error).statusCode() >= 500 ? Optional.of(delay) : Optional.empty();
    }
    return Optional.of(delay);
  }
}
