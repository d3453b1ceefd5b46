package dev.herald.redis;

import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One run of the publish script ({@code publish.lua}) for a group of appends, under one request key
 * that records the call's outcome atomically with its events, so that the outcome can be found out
 * when Redis' answer is lost ({@code resolve.lua}) and so that the call never stores twice; each
 * append optionally under its idempotency key; plus the reach topics whose subscriptions on other
 * nodes the group counts. Every key of a deployment shares one hash slot, so on Cluster a group is
 * always one slot's.
 */
final class PublishCall {
  private final String[] scriptKeys;
  private final byte[][] args;
  private final String request;
  private final int appends;

  private PublishCall(String[] scriptKeys, byte[][] args, String request, int appends) {
    this.scriptKeys = scriptKeys;
    this.args = args;
    this.request = request;
    this.appends = appends;
  }

  /** One append of a group: its batch, and its idempotency key or null. */
  record Append(List<Publication> batch, IdempotencyKey key) {}

  /**
   * What became of one append of a call: stored under ids {@code first} to {@code first + count -
   * 1} at {@code timestamp} (ms), a keyed append's replay of the first append with that key, a
   * conflict with it, or fenced off (the call reached Redis only after {@code resolve.lua} had
   * looked for it, and stored nothing).
   */
  record Outcome(Kind kind, long timestamp, long first, int count) {
    enum Kind {
      STORED,
      REPLAY,
      CONFLICT,
      FENCED
    }

    /** The ids of a stored append or a replay: consecutive. */
    List<Long> ids() {
      List<Long> ids = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        ids.add(first + i);
      }
      return ids;
    }
  }

  /** How the log lays out every call: the same for each group. */
  record Layout(
      Keys keys,
      int maxCount,
      long maxAgeMillis,
      long requestTtl,
      boolean rewriteFound,
      String reachNodes,
      String reachCountPrefix) {}

  /** The call's request key, which holds its outcome once it ran. */
  String request() {
    return request;
  }

  /**
   * Builds the call.
   *
   * @param request the call's request key ({@link Keys#request})
   * @param now the node's clock (ms)
   * @param floor the newest id the node has seen
   * @param barrier the channel the script publishes {@code token} on after the notifications, or
   *     null for none
   * @param reachTopics topics whose subscriptions on other live nodes the script counts
   * @param reachNode the presence node asking (its own counts are left out), or "" for none
   */
  static PublishCall of(
      Layout layout,
      List<Append> appends,
      String request,
      long now,
      long floor,
      String barrier,
      long token,
      List<String> reachTopics,
      String reachNode,
      long staleMillis) {
    Keys keys = layout.keys();
    Map<String, Integer> index = new LinkedHashMap<>();
    for (Append append : appends) {
      for (Publication publication : append.batch()) {
        for (String topic : publication.topics()) {
          index.putIfAbsent(topic, index.size() + 1);
        }
      }
    }
    List<String> scriptKeys = new ArrayList<>(5 + index.size() + appends.size());
    List<String> args = new ArrayList<>();
    scriptKeys.add(keys.meta);
    scriptKeys.add(keys.dropped);
    scriptKeys.add(keys.oldest);
    scriptKeys.add(layout.reachNodes());
    args.add(Long.toString(now));
    args.add(Integer.toString(layout.maxCount()));
    args.add(Long.toString(layout.maxAgeMillis()));
    args.add(keys.channelPrefix);
    args.add(Long.toString(floor));
    args.add(Integer.toString(index.size()));
    args.add(barrier == null ? "" : barrier);
    args.add(Long.toString(token));
    args.add(Long.toString(layout.requestTtl()));
    args.add(layout.rewriteFound() ? "1" : "0");
    args.add(Integer.toString(appends.size()));
    args.add(reachNode);
    args.add(Long.toString(staleMillis));
    args.add(Integer.toString(reachTopics.size()));
    for (String topic : index.keySet()) {
      scriptKeys.add(keys.stream(topic));
      args.add(topic);
    }
    scriptKeys.add(request);
    for (Append append : appends) {
      IdempotencyKey key = append.key();
      args.add(key == null ? "p" : "k");
      args.add(Integer.toString(append.batch().size()));
      if (key != null) {
        long window = Math.max(1, Math.min(millis(key), Cursors.LONGEST_EXPIRY_MILLIS));
        scriptKeys.add(keys.idempotency(key.scope(), key.key()));
        args.add(Long.toString(now + window));
        args.add(Long.toString(window));
        args.add(key.fingerprint());
      }
      for (Publication publication : append.batch()) {
        args.add(Integer.toString(publication.topics().size()));
        for (String topic : publication.topics()) {
          args.add(Integer.toString(index.get(topic)));
        }
        args.add(publication.event().type());
        args.add(Wire.retry(publication.event()));
        args.add(publication.event().data());
      }
    }
    for (String topic : reachTopics) {
      scriptKeys.add(layout.reachCountPrefix() + topic);
    }
    byte[][] encoded = new byte[args.size()][];
    for (int i = 0; i < encoded.length; i++) {
      encoded[i] = args.get(i).getBytes(StandardCharsets.UTF_8);
    }
    return new PublishCall(scriptKeys.toArray(new String[0]), encoded, request, appends.size());
  }

  /**
   * Runs the script. Its reply, {outcome, reach counts}, is read by {@link #outcomes} and {@link
   * #reach}.
   */
  CompletableFuture<List<Object>> run(RedisClusterAsyncCommands<String, String> redis) {
    return Script.PUBLISH.runEncoded(redis, scriptKeys, args);
  }

  /**
   * Each append's outcome, in order, from the script's reply or from the call's request key as
   * {@code resolve.lua} found it (a non-null value: the call ran, or was fenced off).
   *
   * @throws IllegalArgumentException if it is not what the script writes
   */
  List<Outcome> outcomes(Object recorded) {
    if (!(recorded instanceof String text)) {
      throw new IllegalArgumentException("not an outcome: " + recorded);
    }
    List<Outcome> outcomes = new ArrayList<>(appends);
    if (text.isEmpty()) {
      for (int i = 0; i < appends; i++) {
        outcomes.add(new Outcome(Outcome.Kind.FENCED, 0, 0, 0));
      }
      return outcomes;
    }
    String[] lines = text.split("\n", -1);
    if (lines.length != appends + 1) {
      throw new IllegalArgumentException("not an outcome of " + appends + " appends: " + text);
    }
    long timestamp = Long.parseLong(lines[0]);
    for (int i = 1; i < lines.length; i++) {
      String[] parts = lines[i].split(" ", -1);
      Outcome outcome =
          switch (parts[0]) {
            case "s" ->
                new Outcome(
                    Outcome.Kind.STORED,
                    timestamp,
                    Long.parseLong(parts[1]),
                    Integer.parseInt(parts[2]));
            case "r" ->
                new Outcome(
                    Outcome.Kind.REPLAY, 0, Long.parseLong(parts[1]), Integer.parseInt(parts[2]));
            case "c" -> new Outcome(Outcome.Kind.CONFLICT, 0, 0, 0);
            default -> throw new IllegalArgumentException("not an outcome: " + text);
          };
      outcomes.add(outcome);
    }
    return outcomes;
  }

  /** The outcome part of the script's reply. */
  static Object outcome(List<Object> reply) {
    return reply.get(0);
  }

  /**
   * The reach counts of the script's reply, one per reach topic, in the order given.
   *
   * @throws RuntimeException if the reply is not what the script writes
   */
  @SuppressWarnings("unchecked")
  static List<Long> reach(List<Object> reply) {
    return (List<Long>) reply.get(1);
  }

  private static long millis(IdempotencyKey key) {
    try {
      return key.window().toMillis();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }
}
