package dev.herald.hub.internal.auth;

import dev.herald.hub.internal.http.Refusal;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.cookie.Cookie;
import io.netty.handler.codec.http.cookie.ServerCookieDecoder;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds a request's token and verifies it, with a short cache of verified tokens.
 *
 * <p>The token comes from the first place that has one, in this order: {@code Authorization:
 * Bearer}, the {@code herald_token} cookie, the {@code access_token} query parameter (unless query
 * tokens are off). Only that token is verified: an invalid token is refused even if a valid one
 * sits in a lower-precedence place, so a stale cookie can never hide behind a header or the other
 * way round.
 *
 * <p>A verified token is remembered for at most {@value #CACHE_SECONDS} seconds (never past its
 * expiry), so a client that reconnects or publishes often costs one signature check, and a JWKS
 * verification can stay on the event loop.
 */
public final class Authenticator {
  /** The cookie a browser's {@code EventSource} sends the token in. */
  public static final String COOKIE = "herald_token";

  /** The query parameter for clients that can set neither header nor cookie. */
  public static final String QUERY = "access_token";

  static final int CACHE_SECONDS = 30;
  private static final int CACHE_MAX_ENTRIES = 10_000;
  private static final int CACHE_MAX_TOKEN_CHARS = 4096;

  private final TokenVerifier verifier;
  private final boolean queryTokens;
  private final Clock clock;
  private final ConcurrentHashMap<String, Cached> cache = new ConcurrentHashMap<>();

  private record Cached(Principal principal, Instant until) {}

  /**
   * Verifies tokens with {@code verifier}; {@code queryTokens} says whether ?access_token= counts.
   */
  public Authenticator(TokenVerifier verifier, boolean queryTokens, Clock clock) {
    this.verifier = verifier;
    this.queryTokens = queryTokens;
    this.clock = clock;
  }

  /** Whether verifying a token not in the cache may block (JWKS fetch). */
  public boolean mayBlock() {
    return verifier.mayBlock();
  }

  /**
   * The request's token, from the first place that has one.
   *
   * @throws Refusal 401 {@code token_missing}, or {@code token_malformed} for an Authorization
   *     header that is not {@code Bearer <token>}
   */
  public String token(HttpRequest request) {
    String authorization = request.headers().get(HttpHeaderNames.AUTHORIZATION);
    if (authorization != null) {
      String value = authorization.strip();
      if (value.length() > 7 && value.regionMatches(true, 0, "Bearer ", 0, 7)) {
        String token = value.substring(7).strip();
        if (!token.isEmpty()) {
          return token;
        }
      }
      throw Refusal.unauthorized(
          "token_malformed", "the Authorization header must be \"Bearer <token>\"", true);
    }
    String cookieHeader = request.headers().get(HttpHeaderNames.COOKIE);
    if (cookieHeader != null) {
      for (Cookie cookie : ServerCookieDecoder.LAX.decodeAll(cookieHeader)) {
        if (COOKIE.equals(cookie.name()) && !cookie.value().isEmpty()) {
          return cookie.value();
        }
      }
    }
    List<String> query = queryToken(request.uri());
    if (!query.isEmpty()) {
      if (!queryTokens) {
        throw Refusal.unauthorized(
            "token_missing",
            "query tokens are turned off (--no-query-token); send the token as"
                + " \"Authorization: Bearer\" or in the herald_token cookie",
            false);
      }
      if (!query.get(0).isEmpty()) {
        return query.get(0);
      }
    }
    throw Refusal.unauthorized(
        "token_missing",
        "this hub requires a token: send \"Authorization: Bearer <jwt>\", the herald_token"
            + " cookie or the access_token query parameter",
        false);
  }

  private static List<String> queryToken(String uri) {
    if (uri.indexOf('?') < 0) {
      return List.of();
    }
    try {
      return new QueryStringDecoder(uri).parameters().getOrDefault(QUERY, List.of());
    } catch (IllegalArgumentException e) {
      // The subscribe handler answers a bad query string with 400 and a redacted message; a
      // token that cannot be decoded is as good as none.
      return List.of();
    }
  }

  /** The principal of a token verified recently and still valid, if any. */
  public Optional<Principal> cached(String token) {
    Cached cached = cache.get(token);
    if (cached == null) {
      return Optional.empty();
    }
    if (clock.instant().isAfter(cached.until)) {
      cache.remove(token, cached);
      return Optional.empty();
    }
    return Optional.of(cached.principal);
  }

  /**
   * Verifies {@code token} (may block in JWKS mode) and remembers the result briefly.
   *
   * @throws Refusal why the token is refused
   */
  public Principal verify(String token) {
    Instant now = clock.instant();
    Principal principal = verifier.verify(token, now);
    if (token.length() <= CACHE_MAX_TOKEN_CHARS) {
      Instant until = now.plusSeconds(CACHE_SECONDS);
      Optional<Instant> expiry = principal.expiresAt().map(e -> e.plus(verifier.clockSkew()));
      if (expiry.isPresent() && expiry.get().isBefore(until)) {
        until = expiry.get();
      }
      if (cache.size() >= CACHE_MAX_ENTRIES) {
        // Crude but bounded: a full cache starts over rather than tracking recency.
        cache.clear();
      }
      cache.put(token, new Cached(principal, until));
    }
    return principal;
  }

  /** The allowed clock skew. */
  public Duration clockSkew() {
    return verifier.clockSkew();
  }
}
