package dev.herald.redis;

import dev.herald.server.PublishOutcomeUnknownException;
import io.lettuce.core.ScriptOutputType;
import java.lang.System.Logger.Level;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Finds out what became of a publish call whose answer was lost (a timeout, a dropped connection):
 * asks Redis for the call's request key ({@code resolve.lua}, which also makes sure that a call not
 * found there never stores), again and again until Redis answers or one command timeout has passed
 * (see {@link Appender}).
 */
final class LostAnswers {
  // The log's logger: to operators these are the log's messages.
  private static final System.Logger LOG = System.getLogger(RedisEventLog.class.getName());

  /** Pauses between looks for an append's outcome while Redis refuses commands (disconnected). */
  private static final long RESOLVE_RETRY_MILLIS = 50;

  private static final long RESOLVE_RETRY_MAX_MILLIS = 500;

  private final Connections connections;

  /** Whether the log is closed: outcomes are no longer looked for. */
  private final BooleanSupplier closed;

  /** How long Redis keeps a request key (a found one is kept that long again). */
  private final long requestTtlMillis;

  /** Whether a found outcome is written again, so that a WAIT after the lookup covers it. */
  private final boolean rewriteFound;

  LostAnswers(
      Connections connections,
      BooleanSupplier closed,
      long requestTtlMillis,
      boolean rewriteFound) {
    this.connections = connections;
    this.closed = closed;
    this.requestTtlMillis = requestTtlMillis;
    this.rewriteFound = rewriteFound;
  }

  /**
   * Looks for the outcome of the call under {@code request}, whose answer was lost ({@code lost}).
   * Completes with the call's outcome if it ran, empty if it stored nothing, or exceptionally with
   * {@link PublishOutcomeUnknownException}.
   */
  CompletableFuture<Optional<String>> find(String request, Throwable lost) {
    CompletableFuture<Optional<String>> outcome = new CompletableFuture<>();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(connections.timeoutMillis());
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
      CompletableFuture<Optional<String>> outcome) {
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
            rewriteFound ? "1" : "0")
        .orTimeout(remaining, TimeUnit.NANOSECONDS)
        .whenComplete(
            (value, error) -> {
              if (error == null) {
                // '' is a call fenced off before: it never stored either.
                outcome.complete(
                    value == null || value.isEmpty() ? Optional.empty() : Optional.of(value));
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
