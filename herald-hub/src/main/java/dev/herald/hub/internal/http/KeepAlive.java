package dev.herald.hub.internal.http;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpUtil;

/**
 * Whether a request or response keeps its connection open, as {@link HttpUtil#isKeepAlive} says,
 * without its cost in the common case: several handlers ask for every request and response, and
 * Netty's answer allocates an iterator over the {@code Connection} values each time (3.7 % of a
 * publishing hub's allocations), although most messages carry no {@code Connection} header, whose
 * absence the protocol version alone answers.
 */
public final class KeepAlive {
  private KeepAlive() {}

  /** Whether {@code message} keeps its connection open. */
  public static boolean of(HttpMessage message) {
    if (!message.headers().contains(HttpHeaderNames.CONNECTION)) {
      return message.protocolVersion().isKeepAliveDefault();
    }
    return HttpUtil.isKeepAlive(message);
  }
}
