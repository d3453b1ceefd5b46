package dev.herald.redis;

import dev.herald.server.spi.CursorKey;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The names of one deployment's Redis keys and channels (and the checks its builders share for the
 * prefix and durations). Every key starts with the prefix wrapped in a hash tag, {@code
 * {herald:}...}, so on Redis Cluster all of them live in one slot: the publish script touches the
 * sequence and several topics' streams atomically, which Cluster allows only within one slot.
 */
final class Keys {
  /** Hash: {@code seq} (newest id), {@code base} (ids up to it count as dropped), {@code ts}. */
  final String meta;

  /** Hash: topic to the newest id retention dropped from it. */
  final String dropped;

  /** Sorted set: topic scored by the timestamp of its oldest retained event (for the sweeper). */
  final String oldest;

  /** Prefix of the topics' streams: {@code <streamPrefix><topic>}. */
  final String streamPrefix;

  /** Prefix of the topics' notification channels: {@code <channelPrefix><topic>}. */
  final String channelPrefix;

  /** Sorted set of {@link RedisPresence}'s live nodes (same prefix: same names). */
  final String nodes;

  /** Prefix of {@link RedisPresence}'s per-topic subscription count hashes. */
  final String countPrefix;

  /** Longer scopes and topic lists are replaced by their SHA-256 in key names. */
  private static final int LONGEST_PLAIN = 200;

  private final String tag;

  Keys(String prefix) {
    this.tag = "{" + prefix + "}";
    this.meta = tag + "meta";
    this.dropped = tag + "dropped";
    this.oldest = tag + "oldest";
    this.streamPrefix = tag + "s:";
    this.channelPrefix = tag + "n:";
    this.nodes = tag + "nodes";
    this.countPrefix = tag + "r:";
  }

  /** Checks a key prefix given to a builder: any non-empty string. */
  static String checkPrefix(String prefix) {
    java.util.Objects.requireNonNull(prefix, "keyPrefix");
    if (prefix.isEmpty()) {
      throw new IllegalArgumentException("keyPrefix must not be empty");
    }
    return prefix;
  }

  /** Checks a duration given to a builder: positive. */
  static java.time.Duration positive(java.time.Duration value, String name) {
    java.util.Objects.requireNonNull(value, name);
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(name + " must be positive: " + value);
    }
    return value;
  }

  String stream(String topic) {
    return streamPrefix + topic;
  }

  String channel(String topic) {
    return channelPrefix + topic;
  }

  /**
   * The channel on which the publish script says the store lost ids (see publish.lua): the empty
   * topic's, which no topic can have.
   */
  String lostChannel() {
    return channelPrefix;
  }

  /** The Pub/Sub channel of one node's append barriers (see the publish script). */
  String barrier(String node) {
    return tag + "b:" + node;
  }

  /**
   * String: the request key of one publish call of a node, {@code r:<node>:<n>}, which holds the
   * call's outcome (see {@code publish.lua}); {@code node} is unique per log instance, {@code n}
   * counts its calls.
   */
  String request(String node, long n) {
    return tag + "r:" + node + ":" + Long.toString(n, 36);
  }

  /**
   * String: an idempotency key of {@code scope}, {@code i:<key> LF <scope>}, or {@code i:<key> TAB
   * <SHA-256 of the scope>} when the scope is long. A key is visible ASCII, so the character after
   * it tells the two forms apart.
   */
  String idempotency(String scope, String key) {
    return tag + "i:" + key + qualifier(scope);
  }

  /**
   * String: the cursor of a device streaming a topic set, {@code c:<device> LF <topics, one a
   * line>}, or {@code c:<device> TAB <SHA-256 of them>} when they are long.
   */
  String cursor(CursorKey cursor) {
    return tag + "c:" + cursor.deviceId() + qualifier(cursor.topicsText());
  }

  private static String qualifier(String text) {
    if (text.length() <= LONGEST_PLAIN) {
      return "\n" + text;
    }
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return "\t" + HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }
}
