package dev.herald.hub.internal.http;

import io.netty.channel.ChannelHandler;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.util.List;

/**
 * The rules of a request head that are not about its body's length: an HTTP/1.1 request names
 * exactly one {@code Host} (RFC 9112, section 3.2), else 400 {@code host_invalid}; the only
 * expectation the hub meets is {@code Expect: 100-continue} (RFC 9110, section 10.1.1), any other
 * is 417 {@code expectation_failed}.
 */
@ChannelHandler.Sharable
public final class HeadRulesHandler extends RequestHeadCheck {
  @Override
  void check(HttpRequest request) {
    List<String> hosts = request.headers().getAll(HttpHeaderNames.HOST);
    if (hosts.size() > 1) {
      throw Refusal.badRequest("host_invalid", "a request must carry one Host header, not several");
    }
    if (hosts.isEmpty() && request.protocolVersion().compareTo(HttpVersion.HTTP_1_1) >= 0) {
      throw Refusal.badRequest("host_invalid", "an HTTP/1.1 request must carry a Host header");
    }
    List<String> expect = request.headers().getAll(HttpHeaderNames.EXPECT);
    if (!expect.isEmpty()
        && (expect.size() > 1
            || !HttpHeaderValues.CONTINUE.contentEqualsIgnoreCase(expect.get(0).trim()))) {
      throw Refusal.of(
          HttpResponseStatus.EXPECTATION_FAILED,
          "expectation_failed",
          "the hub meets no expectation but Expect: 100-continue");
    }
  }
}
