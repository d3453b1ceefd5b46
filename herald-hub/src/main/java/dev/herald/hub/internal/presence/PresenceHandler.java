package dev.herald.hub.internal.presence;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.herald.hub.internal.auth.Access;
import dev.herald.hub.internal.http.Redaction;
import dev.herald.hub.internal.http.Refusal;
import dev.herald.hub.internal.http.RequestInfo;
import dev.herald.hub.internal.http.Responses;
import dev.herald.hub.internal.http.Route;
import dev.herald.hub.internal.http.TopicValidation;
import dev.herald.server.Broker;
import dev.herald.server.DeviceStream;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;

/**
 * {@code GET /presence?topic=T} (or {@code ?member=M}, topic {@code members/M}): the devices with
 * an open stream covering the topic on this node, each with when its stream opened, and how many
 * subscriptions cover it. Authorised like a subscribe to the topic: a publisher uses it to see who
 * is online, a member to see its own devices.
 */
@ChannelHandler.Sharable
public final class PresenceHandler extends ChannelInboundHandlerAdapter {
  private static final ObjectMapper JSON = new ObjectMapper();

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
    ObjectNode body = JSON.createObjectNode();
    body.put("topic", topic);
    ArrayNode devices = body.putArray("devices");
    for (DeviceStream device : broker.devices(topic)) {
      devices
          .addObject()
          .put("deviceId", device.deviceId())
          .put("since", DateTimeFormatter.ISO_INSTANT.format(device.since()));
    }
    body.put("subscriptions", broker.subscriptionCount(topic));
    Responses.json(
        ctx.channel(), HttpResponseStatus.OK, body.toString(), Responses.keepAlive(ctx.channel()));
  }

  private static String topic(String uri) {
    Map<String, List<String>> parameters;
    try {
      parameters = new QueryStringDecoder(uri).parameters();
    } catch (IllegalArgumentException e) {
      throw Refusal.badRequest(
          "bad_request",
          "the query string is not valid percent-encoding: " + Redaction.redact(e.getMessage()));
    }
    List<String> topics = parameters.getOrDefault("topic", List.of());
    List<String> members = parameters.getOrDefault("member", List.of());
    if (topics.size() + members.size() != 1) {
      throw Refusal.badRequest(
          "topic_missing", "name exactly one topic: ?topic=<name> or ?member=<id>");
    }
    String topic = topics.isEmpty() ? TopicValidation.memberTopic(members.get(0)) : topics.get(0);
    return TopicValidation.check(List.of(topic)).iterator().next();
  }
}
