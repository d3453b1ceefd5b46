package dev.herald.hub.internal.http;

import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.Objects;
import java.util.Optional;

/**
 * A request the hub refuses: the status, a stable reason code and a sentence that says what to fix.
 * Handlers throw it (or fire it with {@code fireExceptionCaught}); the {@link ErrorResponder} at
 * the end of the pipeline turns it into the JSON error response and one log line.
 *
 * <p>It carries no stack trace: a refusal is an answer, not a bug, and is created per bad request.
 */
public final class Refusal extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient HttpResponseStatus status;
  private final String code;
  private final String allow;
  private final int retryAfterSeconds;
  private final String wwwAuthenticate;
  private final int index;

  private Refusal(HttpResponseStatus status, String code, String message, String allow, int retry) {
    this(status, code, message, allow, retry, null, -1);
  }

  private Refusal(
      HttpResponseStatus status,
      String code,
      String message,
      String allow,
      int retry,
      String wwwAuthenticate,
      int index) {
    super(Objects.requireNonNull(message, "message"), null, false, false);
    this.status = Objects.requireNonNull(status, "status");
    this.code = Objects.requireNonNull(code, "code");
    this.allow = allow;
    this.retryAfterSeconds = retry;
    this.wwwAuthenticate = wwwAuthenticate;
    this.index = index;
  }

  /**
   * 401 with {@code WWW-Authenticate} per RFC 6750: without a token just the realm, otherwise
   * {@code error="invalid_token"} and the message as {@code error_description}.
   */
  public static Refusal unauthorized(String code, String message, boolean tokenPresent) {
    String challenge =
        tokenPresent
            ? "Bearer realm=\"herald\", error=\"invalid_token\", error_description=\""
                + headerSafe(message)
                + "\""
            : "Bearer realm=\"herald\"";
    return new Refusal(HttpResponseStatus.UNAUTHORIZED, code, message, null, 0, challenge, -1);
  }

  /** {@code text} as a quoted-string's content: printable ASCII, no quote or backslash. */
  private static String headerSafe(String text) {
    StringBuilder s = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      s.append(c < 0x20 || c > 0x7E ? '?' : c == '"' ? '\'' : c == '\\' ? '/' : c);
    }
    return s.toString();
  }

  /** 403 with the given reason code. */
  public static Refusal forbidden(String code, String message) {
    return of(HttpResponseStatus.FORBIDDEN, code, message);
  }

  /** A refusal with a {@code Retry-After} of the given seconds, e.g. 429 or 503. */
  public static Refusal retryLater(
      HttpResponseStatus status, String code, String message, int retryAfterSeconds) {
    return new Refusal(status, code, message, null, retryAfterSeconds);
  }

  /** A refusal with the given status, reason code and message. */
  public static Refusal of(HttpResponseStatus status, String code, String message) {
    return new Refusal(status, code, message, null, 0);
  }

  /** 400 with the given reason code. */
  public static Refusal badRequest(String code, String message) {
    return of(HttpResponseStatus.BAD_REQUEST, code, message);
  }

  /** 405 with the methods the path allows. */
  public static Refusal methodNotAllowed(String path, String allow) {
    return new Refusal(
        HttpResponseStatus.METHOD_NOT_ALLOWED,
        "method_not_allowed",
        path + " accepts only " + allow,
        allow,
        0);
  }

  /** 503 with a {@code Retry-After} of the given seconds. */
  public static Refusal unavailable(String code, String message, int retryAfterSeconds) {
    return new Refusal(
        HttpResponseStatus.SERVICE_UNAVAILABLE, code, message, null, retryAfterSeconds);
  }

  /**
   * This refusal about the element at {@code index} of a batch: the error body names the index, so
   * a publisher knows which event of its batch to fix.
   */
  public Refusal at(int index) {
    return new Refusal(
        status,
        code,
        "event " + index + " of the batch: " + getMessage(),
        allow,
        retryAfterSeconds,
        wwwAuthenticate,
        index);
  }

  /** The index of the batch element this refusal is about, if it is about one. */
  public java.util.OptionalInt index() {
    return index < 0 ? java.util.OptionalInt.empty() : java.util.OptionalInt.of(index);
  }

  /** The response status. */
  public HttpResponseStatus status() {
    return status;
  }

  /** The stable reason code, e.g. {@code topic_invalid}. */
  public String code() {
    return code;
  }

  /** The {@code Allow} header value, for 405. */
  public Optional<String> allow() {
    return Optional.ofNullable(allow);
  }

  /** The {@code WWW-Authenticate} challenge, for 401. */
  public Optional<String> wwwAuthenticate() {
    return Optional.ofNullable(wwwAuthenticate);
  }

  /** The {@code Retry-After} seconds, 0 for none. */
  public int retryAfterSeconds() {
    return retryAfterSeconds;
  }
}
