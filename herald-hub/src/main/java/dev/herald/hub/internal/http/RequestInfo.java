package dev.herald.hub.internal.http;

import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.AttributeKey;

/**
 * What the pipeline knows about the request in progress on a channel: its method, its path (never
 * the query string, which may carry tokens, and with any {@code access_token=} in the path itself
 * redacted) and the route the {@link Router} chose. So the path is safe for log lines.
 *
 * @param method the request method
 * @param path the request path without the query string, tokens redacted
 * @param route the matched route
 * @param keepAlive whether the client asked to keep the connection open
 */
public record RequestInfo(String method, String path, Route route, boolean keepAlive) {
  private static final AttributeKey<RequestInfo> KEY = AttributeKey.valueOf("herald.request");
  private static final AttributeKey<Boolean> STREAMING = AttributeKey.valueOf("herald.streaming");

  /** Redacts the path: a client may put its token there ({@code /events/access_token=...}). */
  public RequestInfo {
    path = Redaction.redact(path);
  }

  /** Records the request in progress on {@code channel}. */
  static void set(Channel channel, RequestInfo info) {
    channel.attr(KEY).set(info);
  }

  /** The request in progress on {@code channel}, or null before the router has seen one. */
  public static RequestInfo of(Channel channel) {
    return channel.attr(KEY).get();
  }

  /** Whether {@code request} is the one the router matched to {@code route} on this channel. */
  public static boolean routed(Channel channel, Object msg, Route route) {
    RequestInfo info = of(channel);
    return msg instanceof HttpRequest && info != null && info.route == route;
  }

  /**
   * Forgets the request of a connection that became an event stream: nothing reads it any more, and
   * an idle stream should hold no more than it needs.
   */
  public static void forget(Channel channel) {
    channel.attr(KEY).set(null);
    Shedding.forget(channel);
  }

  /** Marks the channel as carrying an event stream: its response has begun. */
  public static void markStreaming(Channel channel) {
    channel.attr(STREAMING).set(Boolean.TRUE);
  }

  /** Whether an event stream response has begun on the channel. */
  public static boolean isStreaming(Channel channel) {
    return Boolean.TRUE.equals(channel.attr(STREAMING).get());
  }
}
