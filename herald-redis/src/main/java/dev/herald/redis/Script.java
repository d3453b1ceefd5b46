package dev.herald.redis;

import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.NestedMultiOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.StringJoiner;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;

/**
 * A Lua script of this package (the files it is made of, shared ones first: {@code common.lua} for
 * the log's, {@code presence_common.lua} for the presence's), run by its SHA-1 and sent in full
 * only when Redis does not know it yet (first use, or after Redis restarted; on Cluster, the first
 * use on a node).
 */
final class Script {
  static final Script PUBLISH = load("common", "presence_common", "publish");
  static final Script SAVE_CURSORS = load("common", "cursors");
  static final Script READ = load("common", "read");
  static final Script DROPPED = load("common", "dropped");
  static final Script SWEEP = load("common", "sweep");
  static final Script RESOLVE = load("resolve");

  /**
   * What Lettuce says when it refuses to write a command while disconnected ({@code
   * DefaultEndpoint.validateWrite}); never about a command Redis may have received.
   */
  private static final String REFUSED = "Currently not connected. Commands are rejected.";

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

  /**
   * Runs the script by SHA-1, falling back to sending its source on NOSCRIPT. A command Redis never
   * received (refused while disconnected, or on a closed connection) fails with {@link NotSent}.
   */
  <T> CompletableFuture<T> run(
      RedisClusterAsyncCommands<String, String> redis,
      ScriptOutputType type,
      String[] keys,
      String... args) {
    return bySha(
        () -> redis.<T>evalsha(sha, type, keys, args),
        () -> redis.<T>eval(source, type, keys, args));
  }

  /**
   * Runs the script as {@link #run} does, for a reply of nested lists, its arguments given as UTF-8
   * bytes: Lettuce writes a {@code byte[]} into the command as it is, where it encodes each {@code
   * String} value through a pooled buffer of its own (for the publish call, a few arguments per
   * event, that was a sixth of the Lettuce thread's work).
   */
  CompletableFuture<List<Object>> runEncoded(
      RedisClusterAsyncCommands<String, String> redis, String[] keys, byte[][] args) {
    return bySha(
        () ->
            redis.dispatch(
                CommandType.EVALSHA,
                new NestedMultiOutput<>(StringCodec.UTF8),
                commandArgs(sha, keys, args)),
        () ->
            redis.dispatch(
                CommandType.EVAL,
                new NestedMultiOutput<>(StringCodec.UTF8),
                commandArgs(source, keys, args)));
  }

  /** Sends {@code bySha}; on NOSCRIPT (Redis does not know the script yet), {@code bySource}. */
  private static <T> CompletableFuture<T> bySha(
      Supplier<RedisFuture<T>> bySha, Supplier<RedisFuture<T>> bySource) {
    return send(bySha)
        .exceptionallyCompose(
            error -> {
              Throwable cause = error instanceof CompletionException ? error.getCause() : error;
              if (cause instanceof RedisNoScriptException) {
                return send(bySource);
              }
              return CompletableFuture.failedFuture(cause);
            });
  }

  /** {@code EVALSHA}'s or {@code EVAL}'s arguments: the script or its SHA-1, keys, arguments. */
  private static CommandArgs<String, String> commandArgs(
      String script, String[] keys, byte[][] args) {
    CommandArgs<String, String> command =
        new CommandArgs<>(StringCodec.UTF8)
            .add(script.getBytes(StandardCharsets.UTF_8))
            .add(keys.length);
    // The first as a key, which routes the call on Cluster (every key of a deployment shares its
    // slot, see Keys); the others as bytes, written as they are.
    command.addKey(keys[0]);
    for (int i = 1; i < keys.length; i++) {
      command.add(keys[i].getBytes(StandardCharsets.UTF_8));
    }
    for (byte[] arg : args) {
      command.add(arg);
    }
    return command;
  }

  /**
   * Whether a script call that failed with {@code cause} certainly did not run to its end: Redis
   * never received it ({@link #refused}), or answered with an error (the scripts check before their
   * first write). A timeout or a dropped connection tells nothing: Redis may have run it.
   */
  static boolean neverRan(Throwable cause) {
    return refused(cause) || cause instanceof RedisCommandExecutionException;
  }

  /**
   * Whether a command failed because it was never sent: refused on the calling thread ({@link
   * NotSent}), or refused by Lettuce later, when it writes a command again after its first write
   * failed.
   */
  static boolean refused(Throwable cause) {
    return cause instanceof NotSent
        || (cause instanceof RedisException && REFUSED.equals(cause.getMessage()));
  }

  /**
   * Sends one command. Lettuce refuses a command it cannot send (disconnected, closed) on the
   * calling thread, before it returns the future; any other failure, even one already there, may
   * come from Redis (an error reply) or after sending (a timeout) and is passed on as it is.
   */
  private static <T> CompletableFuture<T> send(Supplier<RedisFuture<T>> command) {
    CompletableFuture<T> future;
    try {
      future = command.get().toCompletableFuture();
    } catch (RuntimeException e) {
      // Refused before it was sent (no route to a slot, a closed connection).
      return CompletableFuture.failedFuture(new NotSent(e));
    }
    if (future.isCompletedExceptionally()) {
      Throwable cause = future.handle((value, error) -> error).join();
      if (cause instanceof CompletionException && cause.getCause() != null) {
        cause = cause.getCause();
      }
      if (!(cause instanceof RedisCommandExecutionException)
          && !(cause instanceof RedisCommandTimeoutException)) {
        return CompletableFuture.failedFuture(new NotSent(cause));
      }
    }
    return future;
  }

  /** A command that Redis never received: it certainly did not run. */
  static final class NotSent extends RuntimeException {
    private static final long serialVersionUID = 1L;

    NotSent(Throwable cause) {
      super(cause.getMessage(), cause);
    }
  }
}
