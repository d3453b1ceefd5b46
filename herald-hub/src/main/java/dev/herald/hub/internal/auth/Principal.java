package dev.herald.hub.internal.auth;

import dev.herald.hub.internal.http.TopicValidation;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Who made a request and what its token allows: the {@code sub} claim, the topic selectors of
 * {@code {"herald": {"publish": [...], "subscribe": [...]}}} and the expiry. A selector is an exact
 * topic, a prefix ending in {@code *} ({@code members/*}) or {@code *}. The subject may always
 * subscribe to {@code members/<sub>}. The anonymous principal of dev mode may do anything.
 *
 * @param subject the {@code sub} claim, if any
 * @param publish the selectors of the topics it may publish to
 * @param subscribe the selectors of the topics it may subscribe to
 * @param expiresAt the {@code exp} claim, if any
 * @param anonymous whether this is dev mode's anonymous principal
 */
public record Principal(
    Optional<String> subject,
    List<String> publish,
    List<String> subscribe,
    Optional<Instant> expiresAt,
    boolean anonymous) {
  /** Dev mode: no key is configured, every request may do everything. */
  public static final Principal ANONYMOUS =
      new Principal(Optional.empty(), List.of("*"), List.of("*"), Optional.empty(), true);

  /** Copies the lists. */
  public Principal {
    publish = List.copyOf(publish);
    subscribe = List.copyOf(subscribe);
  }

  /** Whether this principal may subscribe to {@code topic}. */
  public boolean maySubscribe(String topic) {
    return matches(subscribe, topic)
        || subject.map(s -> topic.equals(TopicValidation.MEMBER_PREFIX + s)).orElse(false);
  }

  /** Whether this principal may publish to {@code topic}. */
  public boolean mayPublish(String topic) {
    return matches(publish, topic);
  }

  /** Whether any of {@code selectors} matches {@code topic}. */
  static boolean matches(List<String> selectors, String topic) {
    for (String selector : selectors) {
      if (selector.endsWith("*")
          ? topic.startsWith(selector.substring(0, selector.length() - 1))
          : topic.equals(selector)) {
        return true;
      }
    }
    return false;
  }
}
