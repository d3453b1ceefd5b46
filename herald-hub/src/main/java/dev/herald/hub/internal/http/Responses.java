package dev.herald.hub.internal.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;

/** Writes complete (non-streaming) responses. */
public final class Responses {
  /** The content type of every JSON body the hub writes. */
  public static final String JSON = "application/json; charset=utf-8";

  private Responses() {}

  /** Builds a full response with the given body; the caller adds headers and writes it. */
  public static FullHttpResponse full(HttpResponseStatus status, String contentType, byte[] body) {
    ByteBuf content = Unpooled.wrappedBuffer(body);
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, content);
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
    response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
    response.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    return response;
  }

  /**
   * Writes {@code response} on {@code channel}; closes the connection afterwards unless {@code
   * keepAlive}. Safe to call from any thread.
   */
  public static void write(Channel channel, FullHttpResponse response, boolean keepAlive) {
    if (keepAlive) {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      channel.writeAndFlush(response);
    } else {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      channel.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }
  }

  /** Writes a JSON body with the given status. */
  public static void json(
      Channel channel, HttpResponseStatus status, String json, boolean keepAlive) {
    write(channel, full(status, JSON, json.getBytes(StandardCharsets.UTF_8)), keepAlive);
  }

  /** Whether the current request on {@code channel} asked to keep the connection open. */
  public static boolean keepAlive(Channel channel) {
    RequestInfo info = RequestInfo.of(channel);
    return info != null && info.keepAlive();
  }
}
