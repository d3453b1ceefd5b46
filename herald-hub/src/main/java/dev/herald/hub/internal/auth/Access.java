package dev.herald.hub.internal.auth;

import dev.herald.hub.internal.http.CorsHandler;
import dev.herald.hub.internal.http.Refusal;
import io.netty.channel.Channel;
import java.util.Collection;

/**
 * The 403 checks, made by the endpoints once the request's content is valid (docs/http-api.md: 401,
 * then 400, then 403): first the origin (a browser page from an origin outside the CORS allowlist),
 * then every topic against the token's selectors.
 */
public final class Access {
  private Access() {}

  /**
   * Checks that the request on {@code channel} may subscribe to every one of {@code topics}.
   *
   * @throws Refusal 403 {@code origin_not_allowed} or {@code topic_not_allowed}
   */
  public static void subscribe(Channel channel, Collection<String> topics) {
    CorsHandler.checkOrigin(channel);
    Principal principal = AuthHandler.principal(channel);
    for (String topic : topics) {
      if (!principal.maySubscribe(topic)) {
        throw Refusal.forbidden(
            "topic_not_allowed",
            "the token does not allow subscribing to \""
                + topic
                + "\" (claim herald.subscribe, or sub for members/<sub>)");
      }
    }
  }

  /**
   * Checks that the request on {@code channel} may publish to every one of {@code topics}.
   *
   * @throws Refusal 403 {@code origin_not_allowed} or {@code publish_not_allowed}
   */
  public static void publish(Channel channel, Collection<String> topics) {
    CorsHandler.checkOrigin(channel);
    Principal principal = AuthHandler.principal(channel);
    for (String topic : topics) {
      if (!principal.mayPublish(topic)) {
        throw Refusal.forbidden(
            "publish_not_allowed",
            "the token does not allow publishing to \"" + topic + "\" (claim herald.publish)");
      }
    }
  }
}
