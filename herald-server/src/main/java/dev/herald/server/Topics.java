package dev.herald.server;

import java.nio.charset.StandardCharsets;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;

/**
 * The rules for topic names and topic sets: a topic is 1-256 bytes of UTF-8 with no control
 * character (U+0000-U+001F, U+007F-U+009F); a request names at most {@value #MAX_TOPICS} distinct
 * topics.
 */
public final class Topics {
  /** The most topics one subscription or publication may name. */
  public static final int MAX_TOPICS = 32;

  /** The longest topic name, in UTF-8 bytes. */
  public static final int MAX_TOPIC_BYTES = 256;

  private Topics() {}

  /**
   * Checks one topic name.
   *
   * @throws InvalidTopicException saying what is wrong with it
   */
  public static String check(String topic) {
    Objects.requireNonNull(topic, "topic");
    if (topic.isEmpty()) {
      throw new InvalidTopicException(topic, "a topic must not be empty");
    }
    for (int i = 0; i < topic.length(); i++) {
      char c = topic.charAt(i);
      if (c <= 0x1F || (c >= 0x7F && c <= 0x9F)) {
        throw new InvalidTopicException(
            topic,
            String.format(
                "a topic must not contain control characters (U+%04X at index %d)", (int) c, i));
      }
      if (Character.isSurrogate(c)
          && !(Character.isHighSurrogate(c)
              && i + 1 < topic.length()
              && Character.isLowSurrogate(topic.charAt(i + 1)))) {
        if (!(Character.isLowSurrogate(c)
            && i > 0
            && Character.isHighSurrogate(topic.charAt(i - 1)))) {
          throw new InvalidTopicException(
              topic, "a topic must be valid Unicode (unpaired surrogate at index " + i + ")");
        }
      }
    }
    if (topic.length() > MAX_TOPIC_BYTES / 3
        && topic.getBytes(StandardCharsets.UTF_8).length > MAX_TOPIC_BYTES) {
      throw new InvalidTopicException(
          topic, "a topic must be at most " + MAX_TOPIC_BYTES + " bytes of UTF-8");
    }
    return topic;
  }

  /**
   * Checks every topic and the size of the set, collapsing duplicates (order kept).
   *
   * @throws InvalidTopicException if the set is empty, too large, or holds an invalid topic
   */
  public static Set<String> checkAll(Collection<String> topics) {
    if (topics.size() == 1) {
      // The usual publication: no hash set to build (it was 2 % of a publishing hub's garbage).
      return Collections.singleton(check(topics.iterator().next()));
    }
    Set<String> set = new LinkedHashSet<>();
    for (String topic : topics) {
      set.add(check(topic));
    }
    if (set.isEmpty()) {
      throw new InvalidTopicException("", "at least one topic is required");
    }
    if (set.size() > MAX_TOPICS) {
      throw new InvalidTopicException(
          set.iterator().next(),
          "at most " + MAX_TOPICS + " topics are allowed, got " + set.size());
    }
    return Collections.unmodifiableSet(set);
  }
}
