package dev.herald.redis;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.StringJoiner;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A Lua script of this package (the files it is made of, shared ones first: {@code common.lua} for
 * the log's, {@code presence_common.lua} for the presence's), run by its SHA-1 and sent in full
 * only when Redis does not know it yet (first use, or after Redis restarted; on Cluster, the first
 * use on a node).
 */
final class Script {
  static final Script PUBLISH = load("common", "append", "publish");
  static final Script PUBLISH_KEYED = load("common", "append", "publish_keyed");
  static final Script SAVE_CURSORS = load("common", "cursors");
  static final Script READ = load("common", "read");
  static final Script DROPPED = load("common", "dropped");
  static final Script SWEEP = load("common", "sweep");

  private final String source;
  private final String sha;

  private Script(String source) {
    this.source = source;
    try {
      this.sha =
          HexFormat.of()
              .formatHex(
                  MessageDigest.getInstance("SHA-1")
                      .digest(source.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-1", e);
    }
  }

  /**
   * The script made of these files ({@code <name>.lua} next to this class), in this order.
   *
   * @throws IllegalStateException if a file is missing
   */
  static Script load(String... names) {
    StringJoiner source = new StringJoiner("\n");
    for (String name : names) {
      source.add(resource(name));
    }
    return new Script(source.toString());
  }

  private static String resource(String name) {
    try (InputStream in = Script.class.getResourceAsStream(name + ".lua")) {
      if (in == null) {
        throw new IllegalStateException("missing script " + name + ".lua");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Runs the script by SHA-1, falling back to sending its source on NOSCRIPT. */
  <T> CompletableFuture<T> run(
      RedisClusterAsyncCommands<String, String> redis,
      ScriptOutputType type,
      String[] keys,
      String... args) {
    CompletableFuture<T> bySha;
    try {
      bySha = redis.<T>evalsha(sha, type, keys, args).toCompletableFuture();
    } catch (RuntimeException e) {
      // A command refused before it was sent (closed connection, no route to a slot): fail the
      // future like any other failure, callers handle one path.
      return CompletableFuture.failedFuture(e);
    }
    return bySha.exceptionallyCompose(
        error -> {
          Throwable cause = error instanceof CompletionException ? error.getCause() : error;
          if (cause instanceof RedisNoScriptException) {
            return redis.<T>eval(source, type, keys, args).toCompletableFuture();
          }
          return CompletableFuture.failedFuture(cause);
        });
  }
}
