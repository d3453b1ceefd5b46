package dev.herald.client;

import java.net.URI;
import java.net.http.HttpHeaders;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Objects;
import java.util.Optional;

/**
 * The server answered with something other than an event stream: a status other than 200 and 204,
 * or a redirect that cannot be followed. {@link SseContentTypeException}, its one subtype, is a 200
 * that is not {@code text/event-stream}.
 *
 * <p>It carries what a caller needs to decide and explain: the status, the response headers, the
 * URI that answered (after any redirects), the start of the response body (error bodies such as
 * {@code {"error": "topic_not_allowed", ...}} say why) and the {@code Retry-After} delay.
 *
 * <pre>{@code
 * ErrorPolicy retryOn404 = (error, delay) ->
 *     error instanceof SseHttpException http && http.statusCode() == 404
 *         ? Optional.of(delay)
 *         : ErrorPolicy.standard().retryDelay(error, delay);
 * }</pre>
 */
public sealed class SseHttpException extends RuntimeException permits SseContentTypeException {
  private static final long serialVersionUID = 1L;

  /** The longest Retry-After honoured; a larger value is taken as this. */
  private static final Duration MAX_RETRY_AFTER = Duration.ofDays(1);

  private final int statusCode;
  private final HttpHeaders headers;
  private final URI uri;
  private final String body;
  private final Duration retryAfter;

  SseHttpException(String message, int statusCode, HttpHeaders headers, URI uri, String body) {
    super(message);
    this.statusCode = statusCode;
    this.headers = Objects.requireNonNull(headers, "headers");
    this.uri = Objects.requireNonNull(uri, "uri");
    this.body = Objects.requireNonNull(body, "body");
    this.retryAfter = parseRetryAfter(headers, Instant.now()).orElse(null);
  }

  /** The HTTP status code of the response. */
  public int statusCode() {
    return statusCode;
  }

  /** The response headers. */
  public HttpHeaders headers() {
    return headers;
  }

  /** The URI that gave this response: the event source's URI or a redirect target. */
  public URI uri() {
    return uri;
  }

  /**
   * The start of the response body (at most 8 KiB, decoded as UTF-8), or an empty string when there
   * was none or it was not read.
   */
  public String body() {
    return body;
  }

  /**
   * The delay the server asked for with {@code Retry-After} (delay-seconds or an HTTP-date),
   * measured from when the response arrived; empty without a valid header.
   */
  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }

  static Optional<Duration> parseRetryAfter(HttpHeaders headers, Instant now) {
    Optional<String> header = headers.firstValue("Retry-After").map(String::trim);
    if (header.isEmpty() || header.get().isEmpty()) {
      return Optional.empty();
    }
    String value = header.get();
    Duration delay;
    if (value.chars().allMatch(c -> c >= '0' && c <= '9')) {
      // Long enough for any sane value; longer digit strings are clamped rather than refused.
      delay = value.length() > 9 ? MAX_RETRY_AFTER : Duration.ofSeconds(Long.parseLong(value));
    } else {
      try {
        Instant at = ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
        delay = Duration.between(now, at);
      } catch (DateTimeParseException e) {
        return Optional.empty();
      }
    }
    if (delay.isNegative()) {
      return Optional.of(Duration.ZERO);
    }
    return Optional.of(delay.compareTo(MAX_RETRY_AFTER) > 0 ? MAX_RETRY_AFTER : delay);
  }
}
