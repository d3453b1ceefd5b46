package dev.herald.hub.internal.http;

import dev.herald.server.InvalidTopicException;
import dev.herald.server.Topics;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Checks the topics of a request with {@link Topics} and turns each kind of mistake into its own
 * reason code: {@code topic_invalid}, {@code topic_missing} or {@code too_many_topics}.
 */
public final class TopicValidation {
  /** The topic a {@code Member-ID} stands for is this prefix and the id. */
  public static final String MEMBER_PREFIX = "members/";

  private TopicValidation() {}

  /** Checks every topic and the size of the set; duplicates collapse, order is kept. */
  public static Set<String> check(Collection<String> topics) {
    if (topics.size() == 1) {
      // The usual request: no hash set to build.
      return Collections.singleton(checked(topics.iterator().next()));
    }
    Set<String> set = new LinkedHashSet<>();
    for (String topic : topics) {
      set.add(checked(topic));
    }
    if (set.isEmpty()) {
      throw Refusal.badRequest(
          "topic_missing", "name at least one topic (?topic=, \"topic\" or a Member-ID header)");
    }
    if (set.size() > Topics.MAX_TOPICS) {
      throw Refusal.badRequest(
          "too_many_topics",
          "at most " + Topics.MAX_TOPICS + " distinct topics are allowed, got " + set.size());
    }
    return Collections.unmodifiableSet(set);
  }

  private static String checked(String topic) {
    try {
      return Topics.check(topic);
    } catch (InvalidTopicException e) {
      throw Refusal.badRequest("topic_invalid", e.getMessage() + ": " + printable(topic));
    }
  }

  /** The topic of a {@code Member-ID} header value. */
  public static String memberTopic(String memberId) {
    if (memberId.isEmpty()) {
      throw Refusal.badRequest("topic_invalid", "the Member-ID header must not be empty");
    }
    return MEMBER_PREFIX + memberId;
  }

  /** A topic as it may appear in a message: control characters escaped, at most 64 chars. */
  static String printable(String topic) {
    StringBuilder s = new StringBuilder("\"");
    int n = Math.min(topic.length(), 64);
    for (int i = 0; i < n; i++) {
      char c = topic.charAt(i);
      if (c <= 0x1F || (c >= 0x7F && c <= 0x9F)) {
        s.append(String.format("\\u%04X", (int) c));
      } else {
        s.append(c);
      }
    }
    return s.append(topic.length() > n ? "...\"" : "\"").toString();
  }
}
