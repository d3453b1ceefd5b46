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
 * One run of the publish script (see {@code append.lua}), or of its keyed variant ({@code
 * publish_keyed.lua}), which checks the idempotency key, appends and remembers the key in one
 * atomic step. Both run under a request key, which records the attempt's outcome so that it can be
 * found out when Redis' answer is lost ({@code resolve.lua}), and so that the attempt never stores
 * twice.
 */
final class PublishCall {
  private final Script script;
  private final String[] scriptKeys;
  private final String[] args;

  private PublishCall(Script script, String[] scriptKeys, String[] args) {
    this.script = script;
    this.scriptKeys = scriptKeys;
    this.args = args;
  }

  /** The attempt's request key. */
  String request() {
    return scriptKeys[0];
  }

  /**
   * Builds the call.
   *
   * @param now the node's clock (ms)
   * @param floor the newest id the node has seen
   * @param barrier the channel the script publishes {@code token} on after the notifications, or
   *     null for none
   * @param request the attempt's request key ({@link Keys#request})
   * @param requestTtl how long Redis keeps the request key (ms)
   * @param key the idempotency key, or null for a plain append
   */
  static PublishCall of(
      Keys keys,
      List<Publication> batch,
      long now,
      int maxCount,
      long maxAgeMillis,
      long floor,
      String barrier,
      long token,
      String request,
      long requestTtl,
      IdempotencyKey key) {
    Map<String, Integer> index = new LinkedHashMap<>();
    for (Publication publication : batch) {
      for (String topic : publication.topics()) {
        index.putIfAbsent(topic, index.size() + 1);
      }
    }
    List<String> scriptKeys = new ArrayList<>(5 + index.size());
    List<String> args = new ArrayList<>();
    scriptKeys.add(request);
    args.add(Long.toString(requestTtl));
    if (key != null) {
      long window = Math.max(1, Math.min(millis(key), Cursors.LONGEST_EXPIRY_MILLIS));
      scriptKeys.add(keys.idempotency(key.scope(), key.key()));
      args.add(Long.toString(now));
      args.add(Long.toString(now + window));
      args.add(Long.toString(window));
      args.add(key.fingerprint());
    }
    scriptKeys.add(keys.meta);
    scriptKeys.add(keys.dropped);
    scriptKeys.add(keys.oldest);
    args.add(Long.toString(now));
    args.add(Integer.toString(maxCount));
    args.add(Long.toString(maxAgeMillis));
    args.add(keys.channelPrefix);
    args.add(Long.toString(floor));
    args.add(Integer.toString(index.size()));
    args.add(barrier == null ? "" : barrier);
    args.add(Long.toString(token));
    for (String topic : index.keySet()) {
      scriptKeys.add(keys.stream(topic));
      args.add(topic);
    }
    for (Publication publication : batch) {
      args.add(Integer.toString(publication.topics().size()));
      for (String topic : publication.topics()) {
        args.add(Integer.toString(index.get(topic)));
      }
      args.add(publication.event().type());
      args.add(Wire.retry(publication.event()));
      args.add(publication.event().data());
    }
    return new PublishCall(
        key == null ? Script.PUBLISH : Script.PUBLISH_KEYED,
        scriptKeys.toArray(new String[0]),
        args.toArray(new String[0]));
  }

  /**
   * Runs the script: the reply is {timestamp, ids...}, a keyed call's {@link #known} answer, or
   * {@link #fenced}.
   */
  CompletableFuture<List<Object>> run(RedisClusterAsyncCommands<String, String> redis) {
    return script.run(redis, ScriptOutputType.MULTI, scriptKeys, args);
  }

  /**
   * Whether the reply says the attempt was given up for lost before it reached Redis ({@code
   * resolve.lua}): it stored nothing.
   */
  static boolean fenced(List<Object> reply) {
    return "fenced".equals(reply.get(0));
  }

  /**
   * The reply of the publish script rebuilt from a request key's value ({@code timestamp LF first
   * id LF count}, as {@code resolve.lua} answers it): {timestamp, ids...}.
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

  /**
   * Answers a keyed append whose key was used within its window: with the first append's ids, or a
   * conflict. Returns false for a reply of a fresh append.
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
