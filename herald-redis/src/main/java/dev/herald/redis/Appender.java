package dev.herald.redis;

import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.PublishOutcomeUnknownException;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import io.lettuce.core.ScriptOutputType;
import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The {@link RedisEventLog}'s appends, each answered with only what is known. An attempt runs the
 * publish script ({@link PublishCall}) under a request key, which the script sets, atomically with
 * the events, to their ids. If Redis never received the script or refused it, nothing was stored.
 * If its answer was lost (a timeout, a dropped connection), Redis may have run it: the appender
 * asks for the request key ({@code resolve.lua}, which also fences off an attempt it does not find,
 * so that it never stores later) until Redis answers or one more command timeout has passed, and
 * then knows the append stored, not stored, or has to say it does not know.
 *
 * <p>A stored append completes through the {@link Announcer}, once its events were announced.
 */
final class Appender {
  // The log's logger: to operators these are the log's messages.
  private static final System.Logger LOG = System.getLogger(RedisEventLog.class.getName());

  /** The shortest time Redis keeps a request key; longer with a long command timeout. */
  private static final long MIN_REQUEST_TTL_MILLIS = 30_000;

  /** Pauses between looks for an append's outcome while Redis refuses commands (disconnected). */
  private static final long RESOLVE_RETRY_MILLIS = 50;

  private static final long RESOLVE_RETRY_MAX_MILLIS = 500;

  private final Keys keys;
  private final Connections connections;
  private final Announcer announcer;
  private final Clock clock;
  private final int maxCount;
  private final long maxAgeMillis;
  private final long timeoutMillis;

  /** The newest id the node has seen, shared with the log (see {@link RedisEventLog}). */
  private final AtomicLong highestSeen;

  /** Whether the log is closed: outcomes are no longer looked for. */
  private final BooleanSupplier closed;

  /** Names this log instance in its request keys (see {@link Keys#request}). */
  private final String node;

  private final AtomicLong requests = new AtomicLong();

  /** The replicas an append waits for before it completes (none by default). */
  private final Replicas replicas;

  /**
   * How long Redis keeps a request key: well beyond the longest an append's outcome is looked for
   * (about twice the command timeout after it was sent), so it is still there when looked for.
   */
  private final long requestTtlMillis;

  /**
   * @param node names this log instance in its request keys
   * @param maxCount the retention's count, applied by the script
   * @param maxAgeMillis the retention's age, applied by the script
   * @param highestSeen the newest id the node has seen: the floor of new ids, raised by every reply
   */
  Appender(
      Keys keys,
      Connections connections,
      Announcer announcer,
      String node,
      Clock clock,
      int maxCount,
      long maxAgeMillis,
      AtomicLong highestSeen,
      BooleanSupplier closed,
      Replicas replicas) {
    this.keys = keys;
    this.connections = connections;
    this.announcer = announcer;
    this.node = node;
    this.clock = clock;
    this.maxCount = maxCount;
    this.maxAgeMillis = maxAgeMillis;
    this.highestSeen = highestSeen;
    this.closed = closed;
    this.replicas = replicas;
    this.timeoutMillis = connections.timeoutMillis();
    this.requestTtlMillis = Math.max(MIN_REQUEST_TTL_MILLIS, 10 * timeoutMillis);
  }

  /** Appends a non-empty batch (see {@link RedisEventLog#append(List)}). */
  CompletableFuture<List<StoredEvent>> append(List<Publication> batch) {
    CompletableFuture<List<StoredEvent>> result = new CompletableFuture<>();
    publish(batch, null, result, null);
    return result;
  }

  /** Appends a non-empty batch under an idempotency key (see {@link RedisEventLog#append}). */
  CompletableFuture<AppendReceipt> append(List<Publication> batch, IdempotencyKey key) {
    CompletableFuture<AppendReceipt> keyed = new CompletableFuture<>();
    CompletableFuture<List<StoredEvent>> stored = new CompletableFuture<>();
    stored.whenComplete(
        (events, error) -> {
          if (error != null) {
            keyed.completeExceptionally(error);
          } else {
            keyed.complete(new AppendReceipt(events.stream().map(StoredEvent::id).toList(), false));
          }
        });
    publish(batch, key, stored, keyed);
    return keyed;
  }

  /**
   * Runs the publish script and completes {@code result} like {@link #append(List)}; with a key,
   * answers {@code keyed} directly when the key was known (then {@code result} stays incomplete).
   */
  private void publish(
      List<Publication> batch,
      IdempotencyKey key,
      CompletableFuture<List<StoredEvent>> result,
      CompletableFuture<AppendReceipt> keyed) {
    Set<String> topics = new HashSet<>();
    batch.forEach(publication -> topics.addAll(publication.topics()));
    long token = announcer.barrierFor(topics);
    PublishCall call =
        PublishCall.of(
            keys,
            batch,
            clock.millis(),
            maxCount,
            maxAgeMillis,
            highestSeen.get(),
            token != 0 ? announcer.barrierChannel() : null,
            token,
            keys.request(node, requests.incrementAndGet()),
            requestTtlMillis,
            key);
    call.run(connections.redis())
        .whenComplete(
            (reply, error) -> {
              if (error == null) {
                settle(batch, key, keyed, result, token, reply);
                return;
              }
              Throwable cause = error instanceof CompletionException ? error.getCause() : error;
              if (Script.neverRan(cause)) {
                announcer.forget(token);
                result.completeExceptionally(connections.unavailable("append", cause));
                return;
              }
              // Redis may have stored the batch: find out before answering.
              resolve(call.request(), cause)
                  .whenComplete(
                      (recorded, failure) -> {
                        if (failure != null) {
                          announcer.forget(token);
                          result.completeExceptionally(failure);
                        } else if (recorded.isEmpty()) {
                          announcer.forget(token);
                          result.completeExceptionally(
                              new StoreUnavailableException(
                                  "Redis at "
                                      + connections.target()
                                      + " did not store the append (its answer was lost: "
                                      + cause.getMessage()
                                      + ")",
                                  cause));
                        } else {
                          settle(batch, key, keyed, result, token, recorded.get());
                        }
                      });
            });
  }

  /**
   * Completes an append from the publish script's reply (or the one rebuilt from its request key):
   * stored, replayed, a conflict, or, for an attempt given up for lost, not stored.
   */
  private void settle(
      List<Publication> batch,
      IdempotencyKey key,
      CompletableFuture<AppendReceipt> keyed,
      CompletableFuture<List<StoredEvent>> result,
      long token,
      List<Object> reply) {
    List<StoredEvent> stored = new ArrayList<>(batch.size());
    try {
      if (PublishCall.fenced(reply)) {
        throw new StoreUnavailableException("the append was given up for lost; nothing was stored");
      }
      if (key != null && replicas.required() && "replay".equals(reply.get(0))) {
        // The first append may not have reached the replicas yet: the replay asks them again.
        announcer.forget(token);
        CompletableFuture<AppendReceipt> replayed = new CompletableFuture<>();
        PublishCall.known(reply, key, replayed);
        replicas
            .confirm()
            .whenComplete(
                (ok, unconfirmed) -> {
                  if (unconfirmed != null) {
                    keyed.completeExceptionally(
                        unconfirmed instanceof CompletionException
                            ? unconfirmed.getCause()
                            : unconfirmed);
                  } else {
                    keyed.complete(replayed.join());
                  }
                });
        return;
      }
      if (key != null && PublishCall.known(reply, key, keyed)) {
        // A replay or a conflict: nothing was stored or announced, no barrier sent.
        announcer.forget(token);
        return;
      }
      String timestamp = (String) reply.get(0);
      for (int i = 0; i < batch.size(); i++) {
        Publication publication = batch.get(i);
        stored.add(
            StoredEvent.of(
                Long.parseLong((String) reply.get(i + 1)),
                publication.topics(),
                publication.event(),
                Instant.ofEpochMilli(Long.parseLong(timestamp))));
      }
    } catch (RuntimeException e) {
      announcer.forget(token);
      result.completeExceptionally(
          e instanceof StoreUnavailableException
              ? e
              : new StoreUnavailableException("unexpected reply from Redis: " + reply, e));
      return;
    }
    highestSeen.accumulateAndGet(stored.get(stored.size() - 1).id(), Math::max);
    List<StoredEvent> events = Collections.unmodifiableList(stored);
    if (!replicas.required()) {
      announcer.stored(token, result, events);
      return;
    }
    // Stored on the primary (and announced as any event is): durable only once enough replicas
    // confirmed it, and otherwise reported as exactly that.
    CompletableFuture<Void> confirmed = replicas.confirm();
    CompletableFuture<List<StoredEvent>> announced = new CompletableFuture<>();
    announcer.stored(token, announced, events);
    announced.whenComplete(
        (ok, error) ->
            confirmed.whenComplete(
                (done, unconfirmed) -> {
                  if (error != null) {
                    result.completeExceptionally(error);
                  } else if (unconfirmed != null) {
                    result.completeExceptionally(
                        unconfirmed instanceof CompletionException
                            ? unconfirmed.getCause()
                            : unconfirmed);
                  } else {
                    result.complete(events);
                  }
                }));
  }

  /**
   * Finds out what became of an append attempt whose answer was lost (a timeout, a dropped
   * connection): asks Redis for its request key ({@code resolve.lua}, which also makes sure that an
   * attempt not found there never stores), again and again until Redis answers or one command
   * timeout has passed. Completes with the script's reply if the attempt stored its batch, empty if
   * it stored nothing, or exceptionally with {@link PublishOutcomeUnknownException}.
   */
  private CompletableFuture<Optional<List<Object>>> resolve(String request, Throwable lost) {
    CompletableFuture<Optional<List<Object>>> outcome = new CompletableFuture<>();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    LOG.log(
        Level.DEBUG,
        "Redis' answer to an append was lost (" + lost + "); finding out whether it was stored");
    resolveAttempt(request, lost, deadline, RESOLVE_RETRY_MILLIS, outcome);
    return outcome;
  }

  private void resolveAttempt(
      String request,
      Throwable lost,
      long deadline,
      long retryMillis,
      CompletableFuture<Optional<List<Object>>> outcome) {
    long remaining = deadline - System.nanoTime();
    if (closed.getAsBoolean() || remaining <= 0) {
      outcome.completeExceptionally(outcomeUnknown(lost));
      return;
    }
    Script.RESOLVE
        .<String>run(
            connections.redis(),
            ScriptOutputType.VALUE,
            new String[] {request},
            Long.toString(requestTtlMillis),
            replicas.required() ? "1" : "0")
        .orTimeout(remaining, TimeUnit.NANOSECONDS)
        .whenComplete(
            (value, error) -> {
              if (error == null) {
                outcome.complete(
                    value == null || value.isEmpty()
                        ? Optional.empty()
                        : Optional.of(PublishCall.recorded(value)));
                return;
              }
              Throwable cause = error instanceof CompletionException ? error.getCause() : error;
              // Refused at once while disconnected: wait for the reconnect, not spin. After a
              // timeout, ask again at once (on a new connection by now, or queued behind).
              long delay = Script.refused(cause) ? retryMillis : 0;
              try {
                // Not on the worker: a catch-up may block it for a command timeout.
                ScheduledFuture<?> unused =
                    connections
                        .scheduler()
                        .schedule(
                            () ->
                                resolveAttempt(
                                    request,
                                    lost,
                                    deadline,
                                    Math.min(RESOLVE_RETRY_MAX_MILLIS, retryMillis * 2),
                                    outcome),
                            delay,
                            TimeUnit.MILLISECONDS);
              } catch (RejectedExecutionException closing) {
                outcome.completeExceptionally(outcomeUnknown(lost));
              }
            });
  }

  private PublishOutcomeUnknownException outcomeUnknown(Throwable lost) {
    return new PublishOutcomeUnknownException(
        "Redis at "
            + connections.target()
            + " did not answer whether it stored the append ("
            + lost.getMessage()
            + "): it may or may not be stored",
        lost);
  }
}
