package dev.herald.hub.internal.http;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;

/**
 * Once the connection is to close, nothing more the client sent on it is read as a request: not
 * after a request of its own with {@code Connection: close} (or an HTTP/1.0 one without {@code
 * keep-alive}), nor after a response that closes the connection — every refusal, whatever request
 * follows it in the same packet. Without it a pipelined request behind a refused one would still be
 * executed (a publish answered to nobody), which is what request smuggling relies on.
 *
 * <p>One per connection, after {@link ResponseOrder}: requests held there while a publish waits for
 * its store pass here only once that publish is answered, and are dropped if that answer closed the
 * connection.
 */
public final class CloseGate extends ChannelDuplexHandler {
  // The request being read is the client's last: nothing after its end is read.
  private boolean lastRequest;
  // The connection is to close: everything that arrives is dropped.
  private boolean closing;

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (closing) {
      ReferenceCountUtil.release(msg);
      return;
    }
    if (msg instanceof HttpRequest request && !KeepAlive.of(request)) {
      lastRequest = true;
    }
    boolean end = msg instanceof LastHttpContent;
    ctx.fireChannelRead(msg);
    if (end && lastRequest) {
      closing = true;
    }
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof HttpResponse response && !KeepAlive.of(response)) {
      closing = true;
    }
    ctx.write(msg, promise);
  }
}
