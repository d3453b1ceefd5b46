package dev.herald.hub.internal.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.net.URI;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * CORS for browsers on other origins, with an explicit allowlist (no wildcard: the hub's cookie
 * token makes every response credentialed).
 *
 * <ul>
 *   <li>For an allowed {@code Origin} every response — errors included, so a page can read the
 *       reason — carries {@code Access-Control-Allow-Origin: <origin>}, {@code
 *       Access-Control-Allow-Credentials: true}; with an allowlist, every response carries {@code
 *       Vary: Origin}.
 *   <li>A preflight {@code OPTIONS /events} is answered here: 204 with the allowed methods, headers
 *       and a max-age for an allowed origin, 403 {@code origin_not_allowed} otherwise.
 *   <li>An actual publish or subscribe from a disallowed origin is refused with 403 {@code
 *       origin_not_allowed} by {@link #checkOrigin} (in the 403 step, after token and content):
 *       otherwise a page on any site could make a visitor's browser publish with their cookie.
 *   <li>A request whose {@code Origin} is the hub itself ({@code http(s)://} + its {@code Host}) is
 *       not cross-origin: the hub's own console publishes with it, allowlist or not.
 * </ul>
 *
 * Without an allowlist the handler does nothing: no CORS headers, no origin check.
 */
@ChannelHandler.Sharable
public final class CorsHandler extends ChannelDuplexHandler {
  /** The methods a preflight allows. */
  static final String METHODS = "GET, POST, OPTIONS";

  /** The request headers a preflight allows. */
  static final String HEADERS =
      "Content-Type, Authorization, Member-ID, Last-Event-ID, Device-Id, Idempotency-Key";

  /** How long a browser may cache a preflight answer. */
  static final int MAX_AGE_SECONDS = 600;

  private static final AttributeKey<String> ALLOWED = AttributeKey.valueOf("herald.corsOrigin");
  private static final AttributeKey<Boolean> REFUSED = AttributeKey.valueOf("herald.badOrigin");

  private final Set<String> origins;

  /** Allows exactly {@code origins} (e.g. {@code https://app.example}); empty turns CORS off. */
  public CorsHandler(Set<String> origins) {
    this.origins = Set.copyOf(origins);
  }

  /** Whether an allowlist is configured; without one the handler would do nothing. */
  public boolean enabled() {
    return !origins.isEmpty();
  }

  /**
   * Refuses the request in progress if it came from an origin outside the allowlist.
   *
   * @throws Refusal 403 {@code origin_not_allowed}
   */
  public static void checkOrigin(Channel channel) {
    if (Boolean.TRUE.equals(channel.attr(REFUSED).get())) {
      throw originNotAllowed();
    }
  }

  private static Refusal originNotAllowed() {
    return Refusal.forbidden(
        "origin_not_allowed", "this origin is not in the hub's CORS allowlist (--cors-origin)");
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (origins.isEmpty() || !(msg instanceof HttpRequest request)) {
      ctx.fireChannelRead(msg);
      return;
    }
    Channel channel = ctx.channel();
    channel.attr(ALLOWED).set(null);
    channel.attr(REFUSED).set(null);
    String origin = request.headers().get(HttpHeaderNames.ORIGIN);
    if (origin == null || sameOrigin(origin, request.headers().get(HttpHeaderNames.HOST))) {
      // No CORS: not a browser, or the hub's own page (the console; a browser names the origin
      // on a same-origin POST too), which needs no allowlist.
      ctx.fireChannelRead(msg);
      return;
    }
    boolean allowed = origins.contains(origin);
    if (allowed) {
      channel.attr(ALLOWED).set(origin);
    } else {
      channel.attr(REFUSED).set(Boolean.TRUE);
    }
    if (HttpMethod.OPTIONS.equals(request.method())
        && "/events".equals(Router.path(request.uri()))
        && request.headers().contains(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD)) {
      boolean keepAlive = KeepAlive.of(request);
      RequestInfo.set(channel, new RequestInfo("OPTIONS", "/events", null, keepAlive));
      ReferenceCountUtil.release(msg);
      if (!allowed) {
        throw originNotAllowed();
      }
      FullHttpResponse response =
          Responses.full(HttpResponseStatus.NO_CONTENT, Responses.JSON, new byte[0]);
      response.headers().remove(HttpHeaderNames.CONTENT_TYPE);
      response.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
      response
          .headers()
          .set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_METHODS, METHODS)
          .set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_HEADERS, HEADERS)
          .setInt(HttpHeaderNames.ACCESS_CONTROL_MAX_AGE, MAX_AGE_SECONDS);
      // The body of an OPTIONS request (if any) follows; a fresh connection is simpler.
      Responses.write(channel, response, false);
      return;
    }
    ctx.fireChannelRead(msg);
  }

  /** Whether {@code origin} is {@code http://} or {@code https://} the very {@code host} asked. */
  static boolean sameOrigin(String origin, String host) {
    if (host == null || host.isEmpty()) {
      return false;
    }
    String lower = origin.toLowerCase(Locale.ROOT);
    String authority =
        lower.startsWith("http://")
            ? lower.substring(7)
            : lower.startsWith("https://") ? lower.substring(8) : null;
    return authority != null && authority.equals(host.toLowerCase(Locale.ROOT));
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (!origins.isEmpty() && msg instanceof HttpResponse response) {
      HttpHeaders headers = response.headers();
      headers.add(HttpHeaderNames.VARY, "Origin");
      String origin = ctx.channel().attr(ALLOWED).get();
      if (origin != null) {
        headers
            .set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, origin)
            .set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_CREDENTIALS, "true")
            .set(
                HttpHeaderNames.ACCESS_CONTROL_EXPOSE_HEADERS,
                "Retry-After, WWW-Authenticate, Idempotent-Replayed");
      }
    }
    ctx.write(msg, promise);
  }

  /**
   * {@code origin} if it is one origin, scheme://host[:port].
   *
   * @throws IllegalArgumentException for a wildcard or anything else
   */
  public static String checkOrigin(String origin) {
    Objects.requireNonNull(origin, "origin");
    if (origin.contains("*")) {
      throw new IllegalArgumentException(
          "--cors-origin does not accept wildcards (\""
              + origin
              + "\"): the hub answers with credentials (cookie tokens), so list each origin,"
              + " e.g. https://app.example");
    }
    URI uri;
    try {
      uri = URI.create(origin);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not an origin: \"" + origin + "\"", e);
    }
    if (uri.getScheme() == null
        || uri.getHost() == null
        || !(uri.getRawPath() == null || uri.getRawPath().isEmpty())
        || uri.getRawQuery() != null
        || uri.getRawUserInfo() != null) {
      throw new IllegalArgumentException(
          "not an origin: \""
              + origin
              + "\"; write scheme://host[:port] without a path, e.g. https://app.example");
    }
    return origin;
  }
}
