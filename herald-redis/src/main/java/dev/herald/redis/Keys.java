package dev.herald.redis;

/**
 * The names of one deployment's Redis keys and channels. Every key starts with the prefix wrapped
 * in a hash tag, {@code {herald:}...}, so on Redis Cluster all of them live in one slot: the
 * publish script touches the sequence and several topics' streams atomically, which Cluster allows
 * only within one slot.
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

  Keys(String prefix) {
    String tag = "{" + prefix + "}";
    this.meta = tag + "meta";
    this.dropped = tag + "dropped";
    this.oldest = tag + "oldest";
    this.streamPrefix = tag + "s:";
    this.channelPrefix = tag + "n:";
  }

  String stream(String topic) {
    return streamPrefix + topic;
  }

  String channel(String topic) {
    return channelPrefix + topic;
  }
}
