package dev.herald.redis;

import dev.herald.server.IdempotencyConflictException;
import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.spi.AppendReceipt;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One run of the publish script ({@code publish.lua}) for a group of appends: each append under its
 * own request key, which records the attempt's outcome so that it can be found out when Redis'
 * answer is lost ({@code resolve.lua}) and so that the attempt never stores twice, and optionally
 * its idempotency key; plus the reach topics whose subscriptions on other nodes the group counts.
 * Every key of a deployment shares one hash slot, so on Cluster a group is always one slot's.
 */
final class PublishCall {
  private final String[] scriptKeys;
  private final String[] args;
  private final List<String> requests;

  private PublishCall(String[] scriptKeys, String[] args, List<String> requests) {
    this.scriptKeys = scriptKeys;
    this.args = args;
    this.requests = requests;
  }

  /** One append of a group. */
  record Append(List<Publication> batch, IdempotencyKey key, String request) {}

  /** How the log lays out every call: the same for each group. */
  record Layout(
      Keys keys,
      int maxCount,
      long maxAgeMillis,
      long requestTtl,
      boolean rewriteFound,
      String reachNodes,
      String reachCountPrefix) {}

  /** The request keys of the group's appends, in order. */
  List<String> requests() {
    return requests;
  }

  /**
   * Builds the call.
   *
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
    List<String> scriptKeys = new ArrayList<>(4 + index.size() + 2 * appends.size());
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
    List<String> requests = new ArrayList<>(appends.size());
    for (Append append : appends) {
      scriptKeys.add(append.request());
      requests.add(append.request());
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
    return new PublishCall(
        scriptKeys.toArray(new String[0]), args.toArray(new String[0]), List.copyOf(requests));
  }

  /**
   * Runs the script: the reply is {answer per append..., reach counts}, each answer {timestamp,
   * ids...}, a keyed append's {@link #known} answer, or {@link #fenced}.
   */
  CompletableFuture<List<Object>> run(RedisClusterAsyncCommands<String, String> redis) {
    return Script.PUBLISH.run(redis, ScriptOutputType.MULTI, scriptKeys, args);
  }

  /**
   * Whether an answer says the attempt was given up for lost before it reached Redis ({@code
   * resolve.lua}): it stored nothing.
   */
  static boolean fenced(List<Object> answer) {
    return "fenced".equals(answer.get(0));
  }

  /**
   * An append's answer rebuilt from a request key's value ({@code timestamp LF first id LF count},
   * as {@code resolve.lua} answers it): {timestamp, ids...}.
   */
  static List<Object> recorded(String value) {
    String[] parts = value.split("\n", -1);
    long first = Long.parseLong(parts[1]);
    int count = Integer.parseInt(parts[2]);
    List<Object> reply = new ArrayList<>(count + 1);
    reply.add(parts[0]);
    for (int i = 0; i < count; i++) {
      reply.add(Long.toString(first + i)); // the ids of one batch are consecutive
    }
    return reply;
  }

  /** Whether an answer is a keyed append's replay of an earlier append. */
  static boolean replay(List<Object> answer) {
    return "replay".equals(answer.get(0));
  }

  /**
   * Answers a keyed append whose key was used within its window: with the first append's ids, or a
   * conflict. Returns false for an answer of a fresh append.
   */
  static boolean known(
      List<Object> reply, IdempotencyKey key, CompletableFuture<AppendReceipt> keyed) {
    Object status = reply.get(0);
    if ("replay".equals(status)) {
      long first = Long.parseLong((String) reply.get(1));
      int count = Integer.parseInt((String) reply.get(2));
      List<Long> ids = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        ids.add(first + i); // the ids of one batch are consecutive
      }
      keyed.complete(new AppendReceipt(ids, true));
      return true;
    }
    if ("conflict".equals(status)) {
      keyed.completeExceptionally(
          new IdempotencyConflictException(
              "the idempotency key \""
                  + key.key()
                  + "\" was used for a different request within the last "
                  + key.window()
                  + "; use a new key for a new request"));
      return true;
    }
    return false;
  }

  private static long millis(IdempotencyKey key) {
    try {
      return key.window().toMillis();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }
}
