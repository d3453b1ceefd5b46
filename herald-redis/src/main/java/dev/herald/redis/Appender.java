package dev.herald.redis;

import dev.herald.server.IdempotencyConflictException;
import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.PublishOutcomeUnknownException;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.spi.AppendReceipt;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The {@link RedisEventLog}'s appends, group-committed and each answered with only what is known.
 *
 * <p><b>Groups</b>: one publish script call ({@link PublishCall}) is in flight at a time; the
 * appends that arrive meanwhile wait and go together in the next call (up to {@link #MAX_EVENTS}
 * events or {@link #MAX_BYTES} of data), as the SQLite writer commits a group in one transaction.
 * One call then costs one round trip, one script run, one barrier, one retention pass per topic
 * and, with {@code minReplicas}, one {@code WAIT}, however many publishers it serves. It also
 * counts, for a {@link RedisPresence} that {@linkplain #countReach counts reach here}, the
 * subscriptions other nodes have on the topics being published to, so reach costs no call of its
 * own.
 *
 * <p><b>Outcomes</b>: each call runs under its own request key, which the script sets, atomically
 * with the group's events, to each append's outcome. If Redis never received the call or refused
 * it, nothing was stored. If its answer was lost (a timeout, a dropped connection), Redis may have
 * run it: the appender asks for the call's request key ({@code resolve.lua}, which also fences off
 * a call it does not find, so that it never stores later) until Redis answers or one more command
 * timeout has passed, and then knows each append stored, not stored, or has to say it does not
 * know. One key per call, not per append: two commands fewer per append, and Redis keeps (and
 * expires) one key per group.
 *
 * <p>A stored append completes through the {@link Announcer}, once its events were announced, and,
 * with {@code minReplicas}, once enough replicas confirmed them.
 */
final class Appender {
  private static final Runnable NOTHING_TO_ANSWER = () -> {};

  /** The most events in one call, unless one append alone has more: bounds a script's run. */
  static final int MAX_EVENTS = 1000;

  /** The most event data (characters) in one call, unless one append alone has more. */
  static final long MAX_BYTES = 1 << 20;

  /** The shortest time Redis keeps a request key; longer with a long command timeout. */
  private static final long MIN_REQUEST_TTL_MILLIS = 30_000;

  /**
   * How long a reach question asked while no call is in flight waits for its append (which the
   * broker sends right after asking) before it goes alone: only a question whose append never came
   * (it failed before reaching the log) waits this long, and nobody waits for its answer.
   */
  private static final long REACH_ALONE_MILLIS = 100;

  private final Connections connections;
  private final Announcer announcer;
  private final Clock clock;
  private final PublishCall.Layout layout;

  /** The newest id the node has seen, shared with the log (see {@link RedisEventLog}). */
  private final AtomicLong highestSeen;

  /** Names this log instance in its request keys (see {@link Keys#request}). */
  private final String node;

  private final AtomicLong requests = new AtomicLong();

  /** The replicas an append waits for before it completes (none by default). */
  private final Replicas replicas;

  /** Finds out what became of a call whose answer was lost. */
  private final LostAnswers lostAnswers;

  private final Object lock = new Object();
  // Guarded by lock.
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  private final ArrayDeque<ReachAsk> asks = new ArrayDeque<>();
  private boolean sending;
  private boolean aloneScheduled;

  /** The presence node whose reach the calls count ({@link #countReach}); "" for none. */
  private volatile String reachNode = "";

  private volatile long reachStaleMillis;

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
    this.connections = connections;
    this.announcer = announcer;
    this.node = node;
    this.clock = clock;
    this.highestSeen = highestSeen;
    this.replicas = replicas;
    // Redis keeps a request key well beyond the longest an append's outcome is looked for (about
    // twice the command timeout after it was sent), so it is still there when looked for.
    long requestTtlMillis = Math.max(MIN_REQUEST_TTL_MILLIS, 10 * connections.timeoutMillis());
    this.lostAnswers = new LostAnswers(connections, closed, requestTtlMillis, replicas.required());
    this.layout =
        new PublishCall.Layout(
            keys,
            maxCount,
            maxAgeMillis,
            requestTtlMillis,
            replicas.required(),
            keys.nodes,
            keys.countPrefix);
  }

  /** Appends a non-empty batch (see {@link RedisEventLog#append(List)}). */
  CompletableFuture<List<StoredEvent>> append(List<Publication> batch) {
    CompletableFuture<List<StoredEvent>> result = new CompletableFuture<>();
    submit(new Pending(batch, null, result, null));
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
    submit(new Pending(batch, key, stored, keyed));
    return keyed;
  }

  /**
   * Counts reach in the publish calls from now on, for the presence {@code node} (its own counts
   * are left out) with its stale window; see {@link RedisPresence.Builder#log}.
   */
  void countReach(String node, long staleMillis) {
    this.reachStaleMillis = staleMillis;
    this.reachNode = node;
  }

  /**
   * How many subscriptions the other live nodes have on each of {@code topics}, counted in the next
   * publish call (the broker asks just before it appends): topic to count, topics without any left
   * out. Fails with {@link StoreUnavailableException} when that call fails.
   */
  CompletableFuture<Map<String, Integer>> reach(Set<String> topics) {
    ReachAsk ask = new ReachAsk(Set.copyOf(topics), new CompletableFuture<>());
    boolean schedule;
    synchronized (lock) {
      asks.add(ask);
      schedule = !sending && !aloneScheduled;
      aloneScheduled |= schedule;
    }
    if (schedule) {
      // The append it goes with follows at once and takes it along; should none come, it goes
      // alone later.
      try {
        ScheduledFuture<?> unused =
            connections
                .scheduler()
                .schedule(this::sendAsksAlone, REACH_ALONE_MILLIS, TimeUnit.MILLISECONDS);
      } catch (RejectedExecutionException closing) {
        sendAsksAlone();
      }
    }
    return ask.counts();
  }

  private String request() {
    return layout.keys().request(node, requests.incrementAndGet());
  }

  private void submit(Pending pending) {
    Group group;
    synchronized (lock) {
      queue.add(pending);
      if (sending) {
        return; // goes with the next call, once the one in flight is answered
      }
      sending = true;
      group = takeGroup();
    }
    send(group);
  }

  private void sendAsksAlone() {
    Group group;
    synchronized (lock) {
      aloneScheduled = false;
      if (sending || asks.isEmpty()) {
        return;
      }
      sending = true;
      group = takeGroup();
    }
    send(group);
  }

  /** Takes the next group, or null (and stops sending) if nothing waits; holds the lock. */
  private Group takeGroup() {
    if (queue.isEmpty() && asks.isEmpty()) {
      sending = false;
      return null;
    }
    List<Pending> appends = new ArrayList<>();
    int events = 0;
    long bytes = 0;
    while (!queue.isEmpty()) {
      Pending next = queue.peek();
      int size = next.batch().size();
      long data = 0;
      for (Publication publication : next.batch()) {
        data += publication.event().data().length();
      }
      if (!appends.isEmpty() && (events + size > MAX_EVENTS || bytes + data > MAX_BYTES)) {
        break;
      }
      appends.add(queue.poll());
      events += size;
      bytes += data;
    }
    List<ReachAsk> asked = new ArrayList<>(asks);
    asks.clear();
    return new Group(appends, asked);
  }

  /**
   * Sends one call; when it is answered, settles this one's bookkeeping, sends the next group, if
   * any, and only then answers this one's appends (what callers chain on them runs there).
   */
  private void send(Group group) {
    Set<String> topics = new HashSet<>();
    List<PublishCall.Append> appends = new ArrayList<>(group.appends().size());
    for (Pending pending : group.appends()) {
      pending.batch().forEach(publication -> topics.addAll(publication.topics()));
      appends.add(new PublishCall.Append(pending.batch(), pending.key()));
    }
    Set<String> reachTopics = new LinkedHashSet<>();
    String asking = reachNode;
    if (!asking.isEmpty()) {
      group.asks().forEach(ask -> reachTopics.addAll(ask.topics()));
    }
    long token = appends.isEmpty() ? 0 : announcer.barrierFor(topics);
    PublishCall call =
        PublishCall.of(
            layout,
            appends,
            request(),
            clock.millis(),
            highestSeen.get(),
            token != 0 ? announcer.barrierChannel() : null,
            token,
            List.copyOf(reachTopics),
            asking,
            reachStaleMillis);
    CompletableFuture<List<Object>> reply;
    try {
      reply = call.run(connections.redis());
    } catch (RuntimeException e) {
      reply = CompletableFuture.failedFuture(e);
    }
    reply.whenComplete(
        (answers, error) -> {
          Group next;
          synchronized (lock) {
            next = takeGroup();
          }
          Runnable answer = NOTHING_TO_ANSWER;
          try {
            if (error == null) {
              answer = answered(group, call, token, List.copyOf(reachTopics), answers);
            } else {
              failed(group, token, call, error);
            }
          } finally {
            if (next != null) {
              send(next);
            }
          }
          answer.run();
        });
  }

  /**
   * Settles a group from the script's reply.
   *
   * @return what completes the stored appends that wait for nothing more, to run after the next
   *     call was sent
   */
  private Runnable answered(
      Group group, PublishCall call, long token, List<String> reachTopics, List<Object> reply) {
    List<Pending> appends = group.appends();
    Map<String, Integer> counts = new HashMap<>();
    List<Object> outcomes;
    try {
      List<Long> reached = PublishCall.reach(reply);
      for (int i = 0; i < reachTopics.size(); i++) {
        counts.put(reachTopics.get(i), reached.get(i).intValue());
      }
      outcomes = outcomes(appends, call, PublishCall.outcome(reply));
    } catch (RuntimeException e) {
      // A reply this node cannot read: the script ran, so the appends may be stored; they fail
      // saying so (never "not stored"), the reach questions hear nothing.
      counts.clear();
      PublishOutcomeUnknownException unreadable =
          unreadable("Redis at " + connections.target() + " answered", "a reply", reply, e);
      outcomes = new ArrayList<>(Collections.nCopies(appends.size(), unreadable));
    }
    for (ReachAsk ask : group.asks()) {
      Map<String, Integer> mine = new HashMap<>();
      for (String topic : ask.topics()) {
        int count = counts.getOrDefault(topic, 0);
        if (count > 0) {
          mine.put(topic, count);
        }
      }
      ask.counts().complete(mine);
    }
    return finish(appends, token, outcomes);
  }

  /** The call failed: nothing stored, or find out per append what became of it. */
  private void failed(Group group, long token, PublishCall call, Throwable error) {
    Throwable cause = error instanceof CompletionException ? error.getCause() : error;
    StoreUnavailableException unavailable = connections.unavailable("append", cause);
    group.asks().forEach(ask -> ask.counts().completeExceptionally(unavailable));
    List<Pending> appends = group.appends();
    if (Script.neverRan(cause)) {
      announcer.forget(token);
      appends.forEach(pending -> pending.result().completeExceptionally(unavailable));
      return;
    }
    // Redis may have stored them: find out before answering.
    lostAnswers
        .find(call.request(), cause)
        .whenComplete(
            (recorded, failure) -> {
              List<Object> outcomes;
              if (failure != null) {
                outcomes = new ArrayList<>(Collections.nCopies(appends.size(), failure));
              } else if (recorded.isEmpty()) {
                StoreUnavailableException notStored =
                    new StoreUnavailableException(
                        "Redis at "
                            + connections.target()
                            + " did not store the append (its answer was lost: "
                            + cause.getMessage()
                            + ")",
                        cause);
                outcomes = new ArrayList<>(Collections.nCopies(appends.size(), notStored));
              } else {
                try {
                  outcomes = outcomes(appends, call, recorded.get());
                } catch (RuntimeException e) {
                  PublishOutcomeUnknownException unreadable =
                      unreadable(
                          "Redis at " + connections.target() + " recorded",
                          "an outcome",
                          recorded.get(),
                          e);
                  outcomes = new ArrayList<>(Collections.nCopies(appends.size(), unreadable));
                }
              }
              finish(appends, token, outcomes).run();
            });
  }

  /**
   * Each append's outcome from the call's outcome (the script's answer, or what its request key
   * holds): stored events, a replay's receipt, or the failure to report.
   *
   * @throws RuntimeException if the outcome is not one the script writes
   */
  private static List<Object> outcomes(List<Pending> appends, PublishCall call, Object recorded) {
    List<PublishCall.Outcome> found = call.outcomes(recorded);
    List<Object> outcomes = new ArrayList<>(appends.size());
    for (int i = 0; i < appends.size(); i++) {
      outcomes.add(outcome(appends.get(i), found.get(i)));
    }
    return outcomes;
  }

  /**
   * One append's outcome: its stored events, a replay's receipt, or the failure to report (a
   * conflict, a call given up for lost).
   */
  private static Object outcome(Pending pending, PublishCall.Outcome outcome) {
    List<Publication> batch = pending.batch();
    switch (outcome.kind()) {
      case FENCED:
        return new StoreUnavailableException(
            "the append was given up for lost; nothing was stored");
      case CONFLICT:
        if (pending.key() == null) {
          break;
        }
        return IdempotencyConflictException.forKey(pending.key());
      case REPLAY:
        if (pending.key() == null) {
          break;
        }
        return new AppendReceipt(outcome.ids(), true);
      case STORED:
        if (outcome.count() != batch.size()) {
          break;
        }
        Instant timestamp = Instant.ofEpochMilli(outcome.timestamp());
        List<StoredEvent> stored = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
          Publication publication = batch.get(i);
          stored.add(
              StoredEvent.of(
                  outcome.first() + i, publication.topics(), publication.event(), timestamp));
        }
        return Collections.unmodifiableList(stored);
    }
    return unreadable("Redis answered", "an outcome", outcome, null);
  }

  /**
   * An answer this node cannot read: the script ran, so the append may be stored; say only that
   * (never "not stored").
   */
  private static PublishOutcomeUnknownException unreadable(
      String who, String what, Object value, Throwable cause) {
    return new PublishOutcomeUnknownException(
        who
            + " for the append "
            + what
            + " this node cannot read ("
            + value
            + "): it may or may not be stored",
        cause);
  }

  /**
   * Completes a group's appends: failures at once; stored events once announced (through the
   * group's barrier) and, with {@code minReplicas}, confirmed by the replicas (one {@code WAIT} for
   * the group), replays once confirmed too.
   *
   * @return what completes the stored events of a group without a barrier: no local subscriber was
   *     watching its topics, so nothing is announced here and they need not wait for the {@link
   *     Announcer}'s thread; for the caller to run once it holds nothing up
   */
  @SuppressWarnings("unchecked")
  private Runnable finish(List<Pending> appends, long token, List<Object> outcomes) {
    List<StoredEvent> all = new ArrayList<>();
    boolean confirm = false;
    for (int i = 0; i < appends.size(); i++) {
      Object outcome = outcomes.get(i);
      if (outcome instanceof Throwable failure) {
        appends.get(i).fail(failure);
      } else if (outcome instanceof List<?> events) {
        all.addAll((List<StoredEvent>) events);
        confirm = true;
      } else {
        confirm = true; // a replay
      }
    }
    CompletableFuture<Void> confirmed =
        confirm && replicas.required()
            ? replicas.confirm()
            : CompletableFuture.completedFuture(null);
    CompletableFuture<List<StoredEvent>> announced = new CompletableFuture<>();
    Runnable answer = NOTHING_TO_ANSWER;
    if (all.isEmpty()) {
      announcer.forget(token);
      announced.complete(List.of());
    } else {
      highestSeen.accumulateAndGet(all.get(all.size() - 1).id(), Math::max);
      if (token == 0) {
        answer = () -> announced.complete(all);
      } else {
        announcer.stored(token, announced, all);
      }
    }
    announced.whenComplete(
        (ok, error) ->
            confirmed.whenComplete(
                (done, unconfirmed) -> {
                  Throwable failure = error != null ? error : unconfirmed;
                  if (failure instanceof CompletionException && failure.getCause() != null) {
                    failure = failure.getCause();
                  }
                  for (int i = 0; i < appends.size(); i++) {
                    Object outcome = outcomes.get(i);
                    Pending pending = appends.get(i);
                    if (outcome instanceof Throwable) {
                      continue;
                    }
                    if (failure != null) {
                      pending.fail(failure);
                    } else if (outcome instanceof AppendReceipt receipt) {
                      pending.keyed().complete(receipt);
                    } else {
                      pending.result().complete((List<StoredEvent>) outcome);
                    }
                  }
                }));
    return answer;
  }

  /** One append waiting for its call; a keyed one also answers {@code keyed}. */
  private record Pending(
      List<Publication> batch,
      IdempotencyKey key,
      CompletableFuture<List<StoredEvent>> result,
      CompletableFuture<AppendReceipt> keyed) {
    /** Fails the append (a keyed one through {@code result}, which answers {@code keyed}). */
    void fail(Throwable failure) {
      result.completeExceptionally(failure);
    }
  }

  /** A presence's question how many subscriptions other nodes have on these topics. */
  private record ReachAsk(Set<String> topics, CompletableFuture<Map<String, Integer>> counts) {}

  /** The appends and reach questions of one call. */
  private record Group(List<Pending> appends, List<ReachAsk> asks) {}
}
