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
   * The default policy. Closes the source on a response that is not an event stream: a 4xx status
   * other than 408 Request Timeout and 429 Too Many Requests, a redirect that cannot be followed,
   * any other status that is not 5xx, and a wrong or missing content type. Reconnects after {@code
   * delay} on everything else: 5xx, 408, 429, network errors, timeouts and the end of the stream.
   */
  static ErrorPolicy standard() {
    return ErrorPolicy::standardDelay;
  }

  private static Optional<Duration> standardDelay(Throwable error, Duration delay) {
    if (error instanceof SseContentTypeException) {
      return Optional.empty();
    }
    if (error instanceof SseHttpException) {
      int status = ((SseHttpException) error).statusCode();
      boolean transientStatus = status >= 500 || status == 408 || status == 429;
      return transientStatus ? Optional.of(delay) : Optional.empty();
    }
    return Optional.of(delay);
  }
}
