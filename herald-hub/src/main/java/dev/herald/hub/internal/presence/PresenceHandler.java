package dev.herald.hub.internal.presence;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.herald.hub.internal.auth.Access;
import dev.herald.hub.internal.http.Refusal;
import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.RequestText;
import dev.herald.hub.internal.http.ResponseOrder;
import dev.herald.hub.internal.http.Responses;
import dev.herald.hub.internal.http.Route;
import dev.herald.hub.internal.http.TopicValidation;
import dev.herald.server.Broker;
import dev.herald.server.DeviceStream;
import dev.herald.server.TopicPresence;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.ReferenceCountUtil;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /presence?topic=T} (or {@code ?member=M}, topic {@code members/M}): the devices with
 * an open stream covering the topic, each with when its stream opened, and how many subscriptions
 * cover it, on every node (with Redis, read from the store without blocking the event loop; 503
 * {@code store_unavailable} if it cannot be read). Authorised like a subscribe to the topic: a
 * publisher uses it to see who is online, a member to see its own devices.
 */
@ChannelHandler.Sharable
public final class PresenceHandler extends ChannelInboundHandlerAdapter {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Logger LOG = LoggerFactory.getLogger(PresenceHandler.class);

  private final Broker broker;

  /** Answers from {@code broker}'s open subscriptions. */
  public PresenceHandler(Broker broker) {
    this.broker = broker;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!RequestInfo.routed(ctx.channel(), msg, Route.PRESENCE)) {
      ctx.fireChannelRead(msg);
      return;
    }
    HttpRequest request = (HttpRequest) msg;
    String topic;
    try {
      topic = topic(request.uri());
    } finally {
      ReferenceCountUtil.release(msg);
    }
    Access.subscribe(ctx.channel(), List.of(topic));
    Channel channel = ctx.channel();
    boolean keepAlive = Responses.keepAlive(channel);
    CompletableFuture<TopicPresence> presence = broker.presence(topic);
    if (presence.isDone() && !presence.isCompletedExceptionally()) {
      Responses.json(channel, HttpResponseStatus.OK, body(presence.join()), keepAlive);
      return;
    }
    // Other nodes' streams are read from the store: answer when it does, in request order.
    ResponseOrder.awaitResponse(channel);
    presence.whenComplete(
        (answer, failure) -> {
          if (failure == null) {
            Responses.json(channel, HttpResponseStatus.OK, body(answer), keepAlive);
          } else {
            LOG.warn("could not read presence from the store: {}", failure.getMessage());
            channel
                .pipeline()
                .fireExceptionCaught(
                    Refusal.unavailable(
                        "store_unavailable",
                        "the event store is unavailable, presence cannot be read; retry later",
                        1));
          }
          ResponseOrder.responded(channel);
        });
  }

  private static String body(TopicPresence presence) {
    ObjectNode body = JSON.createObjectNode();
    body.put("topic", presence.topic());
    ArrayNode devices = body.putArray("devices");
    for (DeviceStream device : presence.devices()) {
      devices
          .addObject()
          .put("deviceId", device.deviceId())
          .put("since", DateTimeFormatter.ISO_INSTANT.format(device.since()));
    }
    body.put("subscriptions", presence.subscriptions());
    return body.toString();
  }

  private static String topic(String uri) {
    RequestText parameters = RequestText.query(uri);
    List<String> topics = parameters.all("topic", "topic_invalid");
    List<String> members = parameters.all("member", "topic_invalid");
    if (topics.size() + members.size() != 1) {
      throw Refusal.badRequest(
          "topic_missing", "name exactly one topic: ?topic=<name> or ?member=<id>");
    }
    String topic = topics.isEmpty() ? TopicValidation.memberTopic(members.get(0)) : topics.get(0);
    return TopicValidation.check(List.of(topic)).iterator().next();
  }
}
