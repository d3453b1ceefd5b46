package dev.herald.hub.internal.http;

import io.netty.channel.Channel;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.AttributeKey;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Load shedding in the terms an {@code EventSource} understands. A browser's EventSource that gets
 * any status but 200 fails for good (WHATWG HTML, "fail the connection"): a 503 would end exactly
 * the subscribers a storm should only delay. So a request that asked for an event stream ({@code
 * GET /events} with {@code Accept: text/event-stream}) and must be turned away with 503 and {@code
 * Retry-After} is instead answered {@code 200 text/event-stream} with a comment naming the reason
 * ({@code : shed too_many_connections}), a jittered {@code retry:} and an immediate end: the client
 * reconnects after that delay with its {@code Last-Event-ID}. Every other request keeps its 503.
 *
 * <p>The delay is the refusal's {@code Retry-After} spread uniformly over half to one and a half
 * times it, so the clients shed together do not come back together.
 */
public final class Shedding {
  private static final AttributeKey<Boolean> WANTS_STREAM =
      AttributeKey.valueOf("herald.wantsStream");

  private Shedding() {}

  /** Whether {@code request} asks for an event stream: a GET of /events accepting one. */
  public static boolean asksForStream(HttpRequest request) {
    if (!HttpMethod.GET.equals(request.method()) || !"/events".equals(Router.path(request.uri()))) {
      return false;
    }
    for (String accept : request.headers().getAll(HttpHeaderNames.ACCEPT)) {
      if (accept.toLowerCase(java.util.Locale.ROOT).contains("text/event-stream")) {
        return true;
      }
    }
    return false;
  }

  /** Records whether the request now in progress on {@code channel} asks for an event stream. */
  static void mark(Channel channel, HttpRequest request) {
    if (asksForStream(request)) {
      channel.attr(WANTS_STREAM).set(Boolean.TRUE);
    } else if (channel.hasAttr(WANTS_STREAM)) {
      channel.attr(WANTS_STREAM).set(null);
    }
  }

  /** Forgets the mark (a stream that opened no longer needs it). */
  static void forget(Channel channel) {
    if (channel.hasAttr(WANTS_STREAM)) {
      channel.attr(WANTS_STREAM).set(null);
    }
  }

  /** Whether {@code refusal} on {@code channel} is answered as a shed stream instead. */
  static boolean sheds(Channel channel, Refusal refusal) {
    return refusal.status().equals(HttpResponseStatus.SERVICE_UNAVAILABLE)
        && refusal.retryAfterSeconds() > 0
        && channel.hasAttr(WANTS_STREAM)
        && Boolean.TRUE.equals(channel.attr(WANTS_STREAM).get());
  }

  /** A jittered reconnection delay in milliseconds around {@code seconds}: 0.5 to 1.5 times it. */
  public static long jitteredMillis(int seconds) {
    long base = Math.max(1, seconds) * 1000L;
    return base / 2 + ThreadLocalRandom.current().nextLong(base + 1);
  }

  /** The SSE body that ends a stream and asks the client back in {@code retryMillis}. */
  public static byte[] frame(String reason, long retryMillis) {
    return (": shed " + reason + "\nretry: " + retryMillis + "\n\n")
        .getBytes(StandardCharsets.UTF_8);
  }

  /** The shed answer to {@code refusal}: 200, an event stream that says why and when to return. */
  static FullHttpResponse response(Refusal refusal) {
    FullHttpResponse response =
        Responses.full(
            HttpResponseStatus.OK,
            "text/event-stream; charset=utf-8",
            frame(refusal.code(), jitteredMillis(refusal.retryAfterSeconds())));
    // Proxies (nginx) must pass the short body on at once, as for a stream.
    response.headers().set("X-Accel-Buffering", "no");
    return response;
  }
}
