package dev.herald.redis;

import dev.herald.server.IdempotencyKey;
import dev.herald.server.Publication;
import dev.herald.server.PublishOutcomeUnknownException;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.Topics;
import dev.herald.server.spi.Appended;
import dev.herald.server.spi.CursorKey;
import dev.herald.server.spi.EventLog;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.lang.System.Logger.Level;
import java.net.SocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An {@link EventLog} on Redis, shared by every hub node of a deployment: history in one Redis
 * Stream per topic, ids from one sequence, and fan-out across nodes through Pub/Sub.
 *
 * <pre>{@code
 * RedisEventLog log = RedisEventLog.builder()
 *     .uri("redis://:secret@redis.internal:6379/0")   // rediss:// for TLS, redis-cluster://...
 *     .retention(new Retention(1000, Duration.ofHours(24)))
 *     .build();
 * Broker broker = Broker.builder().log(log).build();
 * }</pre>
 *
 * <p><b>Publishing</b> is one Lua script per batch, atomic in Redis: it takes the ids from the
 * deployment's sequence (started at Redis' time in microseconds when missing, and never below an id
 * the publishing node has seen, so ids are never reused after Redis lost its data; positions from
 * the lost history then count as dropped), adds each event to the stream of each of its topics
 * under the entry id {@code <id>-0} (so a stream is read from a position with one {@code XRANGE}),
 * applies retention and records what it dropped, and publishes a notification carrying the whole
 * event on each topic's channel. The append's future completes once Redis acknowledged the script
 * (what "durable" means here: configure Redis persistence, AOF {@code appendfsync everysec} or
 * {@code always}, to match what you need). An append answers only what it knows. If Redis never
 * received the script (the connection is down) or refused it, the future fails at once with {@link
 * StoreUnavailableException}: nothing was stored. If Redis' answer is lost (no answer within the
 * {@linkplain Builder#commandTimeout command timeout}, or the connection dropped with the script in
 * flight), Redis may have run it: each attempt carries a request key ({@code {prefix}r:<node>:<n>})
 * that the script sets, atomically with the events, to their ids, and the log asks Redis for it
 * again and again, for up to one more command timeout. Found: the append completes as stored (its
 * events are announced like any other). Not found: that lookup also marks the key so the attempt,
 * should it still reach Redis, stores nothing, and the future fails with {@link
 * StoreUnavailableException}. No answer by then: it fails with {@link
 * PublishOutcomeUnknownException}, and the events may still appear; retrying with the same {@link
 * IdempotencyKey} stores them at most once. A script that reaches Redis twice (the client resends
 * commands in flight after a reconnect) finds its request key and stores nothing again.
 *
 * <p><b>Announcing</b>: each node subscribes only to the channels of topics it {@linkplain #watch
 * watches} (counted; the broker watches the topics of its subscriptions), so a node hears only what
 * its subscribers want. Notifications reach a node on one connection in the order the scripts ran,
 * which is id order; an event of several watched topics arrives once per topic and is announced
 * once (a watermark of the last announced id drops the repeats). Announcements run on one thread of
 * this log, in strictly increasing id order. When an append touches a watched topic, its script
 * publishes, after the notifications, a barrier token on this node's own channel ({@code
 * {prefix}b:<uuid>}), which travels the same way (on Cluster, possibly through another node); the
 * append's future completes only once Redis replied and the barrier passed the announcer, so
 * everything published before it was announced: the listener has heard of the event first, as
 * {@link EventLog} requires. If the notification connection drops, the log stops announcing, and
 * when Redis is back it resubscribes, reads every watched topic's stream after the last announced
 * id, announces what it missed in order, and only then resumes live notifications: no gap, no
 * duplicate. (An append Redis acknowledges while the connection is down completes without waiting;
 * its events are announced on catch-up.) A barrier that does not arrive within the command timeout
 * although the connection is up (Redis Cluster drops Pub/Sub messages when a link between its nodes
 * fails) starts the same catch-up, and the append completes after it.
 *
 * <p><b>Retention</b>: each stream is trimmed exactly to {@link Retention#maxCount()} on publish;
 * events older than {@link Retention#maxAge()} (by the publishing node's clock, never decreasing)
 * are never read and count as dropped at once; they are deleted when their topic is next published
 * to, or by a sweep every node runs every 30 seconds. The newest dropped id of each topic is kept
 * in a hash, for {@link #droppedThrough}.
 *
 * <p><b>Single Redis, Sentinel or Redis Cluster</b>: {@code redis://} and {@code rediss://} URIs
 * connect to one Redis; {@code redis-sentinel://} URIs follow the master through failovers that
 * Sentinel announces. {@code redis-cluster://host:port[,host:port...]} ({@code rediss-cluster://}
 * for TLS; credentials as in {@code redis-cluster://:secret@host:port}) connects to a Redis Cluster
 * through any of the listed seed nodes, learns the topology, follows {@code MOVED} redirects and
 * refreshes the topology after failovers. (A {@code redis://} URI pointed at a Cluster node works
 * only while that node owns the deployment's slot: it does not follow redirects.) Every key of a
 * deployment begins with the key prefix wrapped in a hash tag ({@code {herald:}meta}, {@code
 * {herald:}s:<topic>}, ...), so on Cluster all of them live in one hash slot, on one master: a
 * publish touches the sequence and several topics' streams atomically, which Cluster only allows
 * within one slot. Cluster therefore gives high availability through that master's replicas, never
 * write scaling (one deployment is one shard); for more write throughput run separate deployments
 * (separate key prefixes, whose slots Cluster spreads over its masters). Notifications are
 * published by the master owning the slot and Cluster forwards them to every node, so a node's
 * subscriber connection may be on any master. Requires Redis 6.2 or later (RESP3, {@code XTRIM
 * MINID}); use {@code maxmemory-policy noeviction}, since evicting a stream would lose history
 * silently.
 *
 * <p><b>Idempotency keys</b> ({@link #append(List, IdempotencyKey)}) are checked, the batch
 * appended and the key remembered in one Lua script, so identical requests racing on any nodes
 * store the batch once. A key is a string {@code {prefix}i:<key> LF <scope>} (the scope replaced by
 * its SHA-256 when over 200 characters) holding the window's end by the publishing node's clock,
 * the batch's first id and size, and the fingerprint; Redis deletes it after the window ({@code
 * PX}). A replay or a conflict stores and announces nothing.
 *
 * <p><b>Device cursors</b> ({@link #saveCursors}, {@link #cursor}) are shared by every node, so a
 * device resumes on any node: one string per device and topic set, {@code {prefix}c:<device> LF
 * <topics, one a line>} (the topics replaced by their SHA-256 when over 200 characters), holding
 * the cursor and when it was saved, with the retention age as its expiry. A save keeps the larger
 * of the stored and the new cursor, since two nodes may save one device's cursor out of order when
 * it moves; one script saves up to 500 cursors.
 *
 * <p><b>Memory</b>: each retained event is stored once per topic it was published to (type, data,
 * topics, timestamp: about its size plus 100 bytes per copy), up to {@code maxCount} per topic;
 * plus about 100 bytes per topic with retained events in the sweep index, and per topic that ever
 * lost an event to retention in the drop hash (kept for good, so a client resuming from before the
 * loss always gets a {@code reset}). Size Redis for {@code topics x maxCount x average event size}.
 * Each idempotency key costs about 100 bytes plus its key, scope and fingerprint, for its window
 * (keys per second x window); each append's request key about 150 bytes for 30 s (ten command
 * timeouts when longer): 1000 appends per second keep about 5 MB; each device cursor about 100
 * bytes plus its device id and topics, for the retention age after the device was last seen.
 *
 * <p>A node whose notification connection stays down so long that retention drops events it has not
 * announced cannot announce them on catch-up: it logs a warning naming the topics.
 */
public final class RedisEventLog implements EventLog {
  private static final System.Logger LOG = System.getLogger(RedisEventLog.class.getName());

  /** How often each node deletes expired events of topics nobody publishes to. */
  private static final long SWEEP_INTERVAL_SECONDS = 30;

  /** Topics swept per script call, and the most calls per sweep. */
  private static final int SWEEP_BATCH = 100;

  private static final int SWEEP_ROUNDS = 100;

  /** Topics and events per read while catching up after the notification connection dropped. */
  private static final int CATCH_UP_TOPICS = 128;

  private static final int CATCH_UP_PAGE = 1000;

  private static final long CATCH_UP_RETRY_MILLIS = 250;

  /**
   * How often the log probes Redis for {@link #isAvailable}, and the longest a probe may take
   * (shorter with a shorter command timeout) before Redis counts as hanging.
   */
  private static final long PROBE_INTERVAL_MILLIS = 1000;

  private static final long PROBE_TIMEOUT_MILLIS = 1000;

  /** The shortest time Redis keeps a request key; longer with a long command timeout. */
  private static final long MIN_REQUEST_TTL_MILLIS = 30_000;

  /** Pauses between looks for an append's outcome while Redis refuses commands (disconnected). */
  private static final long RESOLVE_RETRY_MILLIS = 50;

  private static final long RESOLVE_RETRY_MAX_MILLIS = 500;

  /** Ids stay below 2^53, so the Lua scripts hold them exactly in their double numbers. */
  private static final long MAX_ID = 1L << 53;

  private final Keys keys;
  private final Cursors cursorStore;
  private final Retention retention;
  private final long maxAgeMillis;
  private final Clock clock;
  private final long timeoutMillis;
  private final String target;
  private final Connector connector;
  private final StatefulConnection<String, String> connection;
  private final RedisClusterAsyncCommands<String, String> redis;
  private final StatefulRedisPubSubConnection<String, String> pubSub;

  /** Announces, completes appends and catches up: one thread, so all of it is in order. */
  private final ScheduledThreadPoolExecutor announcer;

  /**
   * This node's barrier channel: the publish script sends a token there after the notifications of
   * an append that waits, and they reach this node the same way, in order.
   */
  private final String barrier;

  private final AtomicLong barrierTokens = new AtomicLong();

  /** Names this log instance in its request keys (see {@link Keys#request}). */
  private final String node;

  private final AtomicLong requests = new AtomicLong();

  /**
   * How long Redis keeps a request key: well beyond the longest an append's outcome is looked for
   * (about twice the command timeout after it was sent), so it is still there when looked for.
   */
  private final long requestTtlMillis;

  /** The watched topics; guarded by itself. */
  private final Map<String, Interest> interests = new HashMap<>();

  /**
   * The newest id this node has seen: the publish script never assigns ids below it, so ids are not
   * reused even if Redis lost its data and its clock is behind the one that issued them.
   */
  private final AtomicLong highestSeen = new AtomicLong();

  private volatile Listener listener;
  private volatile boolean closed;

  /** When the probe in flight was sent (System.nanoTime), 0 when none is. */
  private final AtomicLong probeSentAt = new AtomicLong();

  private final long probeTimeoutNanos;

  /** Whether the last probe that completed was answered. */
  private volatile boolean probeAnswered = true;

  private final ScheduledFuture<?> probes;

  // Confined to the announcer thread.
  private long watermark;
  private boolean gap;
  private boolean catchUpScheduled;
  private final List<Runnable> afterCatchUp = new ArrayList<>();
  private final Map<Long, Waiting> waiting = new HashMap<>();

  private RedisEventLog(Builder builder) {
    this.keys = new Keys(builder.keyPrefix);
    this.node = UUID.randomUUID().toString();
    this.barrier = keys.barrier(node);
    this.cursorStore = new Cursors(keys, millis(builder.retention.maxAge()), builder.clock);
    this.retention = builder.retention;
    this.maxAgeMillis = millis(builder.retention.maxAge());
    this.clock = builder.clock;
    this.timeoutMillis = builder.commandTimeout.toMillis();
    this.requestTtlMillis = Math.max(MIN_REQUEST_TTL_MILLIS, 10 * timeoutMillis);
    this.probeTimeoutNanos =
        TimeUnit.MILLISECONDS.toNanos(Math.min(PROBE_TIMEOUT_MILLIS, timeoutMillis));
    this.connector = new Connector(builder.uri, builder.commandTimeout);
    this.target = connector.target();
    this.announcer =
        new ScheduledThreadPoolExecutor(
            1,
            runnable -> {
              Thread thread = new Thread(runnable, "herald-redis-announcer");
              thread.setDaemon(true);
              return thread;
            });
    announcer.setRemoveOnCancelPolicy(true);
    announcer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    Connector.Commands commands = null;
    StatefulRedisPubSubConnection<String, String> subscriber;
    try {
      commands = connector.commands();
      subscriber = connector.pubSub();
    } catch (RuntimeException e) {
      announcer.shutdownNow();
      connector.close(); // closes the command connection too
      throw e;
    }
    this.connection = commands.connection();
    this.redis = commands.async();
    this.pubSub = subscriber;
    pubSub.addListener(
        new RedisPubSubAdapter<String, String>() {
          @Override
          public void message(String channel, String message) {
            // On Lettuce's I/O thread, in the order Redis sent them: hand over, never block.
            if (barrier.equals(channel)) {
              dispatch(() -> onBarrier(message));
            } else {
              dispatch(() -> onNotification(message));
            }
          }
        });
    pubSub.addListener(
        new RedisConnectionStateListener() {
          @Override
          public void onRedisDisconnected(RedisChannelHandler<?, ?> handler) {
            if (handler == pubSub) {
              dispatch(RedisEventLog.this::onDisconnected);
            }
          }

          @Override
          public void onRedisConnected(RedisChannelHandler<?, ?> handler, SocketAddress address) {
            if (handler == pubSub) {
              dispatch(RedisEventLog.this::catchUp);
            }
          }
        });
    try {
      await(pubSub.async().subscribe(barrier), "subscribe");
    } catch (StoreUnavailableException e) {
      announcer.shutdownNow();
      connector.close();
      throw e;
    }
    ScheduledFuture<?> unused =
        announcer.scheduleWithFixedDelay(
            this::sweep, SWEEP_INTERVAL_SECONDS, SWEEP_INTERVAL_SECONDS, TimeUnit.SECONDS);
    // Not on the announcer: a catch-up may block it for a command timeout.
    this.probes =
        connector
            .scheduler()
            .scheduleWithFixedDelay(
                this::probe, PROBE_INTERVAL_MILLIS, PROBE_INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
  }

  /**
   * Returns a builder: {@code redis://127.0.0.1:6379}, key prefix {@code herald:}, {@link
   * Retention#DEFAULT}, the system UTC clock, a 2 s command timeout.
   */
  public static Builder builder() {
    return new Builder();
  }

  @Override
  public void listener(Listener listener) {
    Objects.requireNonNull(listener, "listener");
    synchronized (interests) {
      if (this.listener != null) {
        throw new IllegalStateException("the log already has a listener");
      }
      this.listener = listener;
    }
  }

  @Override
  public CompletableFuture<List<StoredEvent>> append(List<Publication> batch) {
    Objects.requireNonNull(batch, "batch");
    if (closed) {
      return CompletableFuture.failedFuture(closedException());
    }
    if (batch.isEmpty()) {
      return CompletableFuture.completedFuture(List.of());
    }
    CompletableFuture<List<StoredEvent>> result = new CompletableFuture<>();
    publish(batch, null, result, null);
    return result;
  }

  /**
   * {@inheritDoc}
   *
   * <p>One Lua script checks the key, appends and remembers the key, so this holds across every
   * node of the deployment. The key is a Redis string ({@code {prefix}i:<key>...}: the window's end
   * by the publishing node's clock, the first id, the count and the fingerprint) that Redis deletes
   * after the window. A replay stores and announces nothing and completes at once.
   */
  @Override
  public CompletableFuture<Appended> append(List<Publication> batch, IdempotencyKey key) {
    Objects.requireNonNull(batch, "batch");
    Objects.requireNonNull(key, "key");
    if (closed) {
      return CompletableFuture.failedFuture(closedException());
    }
    if (batch.isEmpty()) {
      return CompletableFuture.completedFuture(new Appended(List.of(), false));
    }
    CompletableFuture<Appended> keyed = new CompletableFuture<>();
    CompletableFuture<List<StoredEvent>> stored = new CompletableFuture<>();
    stored.whenComplete(
        (events, error) -> {
          if (error != null) {
            keyed.completeExceptionally(error);
          } else {
            keyed.complete(new Appended(events.stream().map(StoredEvent::id).toList(), false));
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
      CompletableFuture<Appended> keyed) {
    Set<String> topics = new HashSet<>();
    batch.forEach(publication -> topics.addAll(publication.topics()));
    // Only an append some local subscriber wants waits until its notifications were announced.
    boolean wait = watchesAny(topics);
    long token = wait ? barrierTokens.incrementAndGet() : 0;
    if (wait) {
      // Queued before the script is sent, so before its barrier can arrive.
      dispatch(() -> waiting.put(token, new Waiting()));
    }
    PublishCall call =
        PublishCall.of(
            keys,
            batch,
            clock.millis(),
            retention.maxCount(),
            maxAgeMillis,
            highestSeen.get(),
            wait ? barrier : null,
            token,
            keys.request(node, requests.incrementAndGet()),
            requestTtlMillis,
            key);
    call.run(redis)
        .whenComplete(
            (reply, error) -> {
              if (error == null) {
                settle(batch, key, keyed, result, wait, token, reply);
                return;
              }
              Throwable cause = error instanceof CompletionException ? error.getCause() : error;
              if (Script.neverRan(cause)) {
                forget(wait, token);
                result.completeExceptionally(unavailable("append", cause));
                return;
              }
              // Redis may have stored the batch: find out before answering.
              resolve(call.request(), cause)
                  .whenComplete(
                      (recorded, failure) -> {
                        if (failure != null) {
                          forget(wait, token);
                          result.completeExceptionally(failure);
                        } else if (recorded.isEmpty()) {
                          forget(wait, token);
                          result.completeExceptionally(
                              new StoreUnavailableException(
                                  "Redis at "
                                      + target
                                      + " did not store the append (its answer was lost: "
                                      + cause.getMessage()
                                      + ")",
                                  cause));
                        } else {
                          settle(batch, key, keyed, result, wait, token, recorded.get());
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
      CompletableFuture<Appended> keyed,
      CompletableFuture<List<StoredEvent>> result,
      boolean wait,
      long token,
      List<Object> reply) {
    List<StoredEvent> stored = new ArrayList<>(batch.size());
    try {
      if (PublishCall.fenced(reply)) {
        throw new StoreUnavailableException("the append was given up for lost; nothing was stored");
      }
      if (key != null && PublishCall.known(reply, key, keyed)) {
        // A replay or a conflict: nothing was stored or announced, no barrier sent.
        forget(wait, token);
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
      forget(wait, token);
      result.completeExceptionally(
          e instanceof StoreUnavailableException
              ? e
              : new StoreUnavailableException("unexpected reply from Redis: " + reply, e));
      return;
    }
    List<StoredEvent> events = Collections.unmodifiableList(stored);
    highestSeen.accumulateAndGet(stored.get(stored.size() - 1).id(), Math::max);
    try {
      announcer.execute(() -> replied(token, result, events));
    } catch (RejectedExecutionException closing) {
      result.complete(events); // stored; nothing more will be announced
    }
  }

  /** Stops waiting for an append's barrier: it stored nothing, or its outcome is not known. */
  private void forget(boolean wait, long token) {
    if (wait) {
      dispatch(() -> waiting.remove(token));
    }
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
    if (closed || remaining <= 0) {
      outcome.completeExceptionally(outcomeUnknown(lost));
      return;
    }
    Script.RESOLVE
        .<String>run(
            redis, ScriptOutputType.VALUE, new String[] {request}, Long.toString(requestTtlMillis))
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
                // Not on the announcer: a catch-up may block it for a command timeout.
                ScheduledFuture<?> unused =
                    connector
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
            + target
            + " did not answer whether it stored the append ("
            + lost.getMessage()
            + "): it may or may not be stored",
        lost);
  }

  /** Stores device cursors in Redis, shared by every node (see the class comment). */

  /**
   * {@inheritDoc}
   *
   * <p>One Lua script per 500 cursors, all sent at once; each key keeps the larger of the stored
   * and the new cursor (nodes may save one device's cursor out of order) and expires after the
   * retention age.
   */
  @Override
  public CompletableFuture<Void> saveCursors(Map<CursorKey, Long> cursors) {
    Objects.requireNonNull(cursors, "cursors");
    if (closed) {
      return CompletableFuture.failedFuture(closedException());
    }
    if (cursors.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> saved;
    try {
      saved = cursorStore.save(redis, cursors);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(unavailable("save device cursors", e));
    }
    return saved.handle(
        (ok, error) -> {
          if (error != null) {
            throw unavailable("save device cursors", error);
          }
          return null;
        });
  }

  /** Reads one cursor; blocks up to the command timeout. */
  @Override
  public Optional<Long> cursor(CursorKey key) {
    Objects.requireNonNull(key, "key");
    if (closed) {
      throw closedException();
    }
    return cursorStore.parse(await(redis.get(keys.cursor(key)), "read a device cursor"));
  }

  @Override
  public List<StoredEvent> readAfter(Set<String> topics, long afterId, int limit) {
    Objects.requireNonNull(topics, "topics");
    if (limit < 1) {
      throw new IllegalArgumentException("limit must be positive: " + limit);
    }
    if (closed) {
      throw closedException();
    }
    if (topics.isEmpty() || afterId >= MAX_ID) {
      return List.of(); // no id reaches 2^53 (microseconds until the year 2255)
    }
    String[] streams = topics.stream().map(keys::stream).toArray(String[]::new);
    List<Object> reply =
        await(
            Script.READ.run(
                redis,
                ScriptOutputType.MULTI,
                streams,
                Long.toString(Math.max(0, afterId)),
                Integer.toString(limit),
                Long.toString(cutoff())),
            "read");
    return Collections.unmodifiableList(Wire.events(reply));
  }

  @Override
  public long lastId() {
    if (closed) {
      throw closedException();
    }
    String seq = await(redis.hget(keys.meta, "seq"), "read the last id");
    // After Redis lost its data, ids this node saw are still "ever assigned": positions up to
    // them are expired (see droppedThrough), not unknown.
    return highestSeen.accumulateAndGet(seq == null ? 0 : Long.parseLong(seq), Math::max);
  }

  @Override
  public long droppedThrough(Set<String> topics) {
    Objects.requireNonNull(topics, "topics");
    if (closed) {
      throw closedException();
    }
    String[] scriptKeys = new String[2 + topics.size()];
    String[] args = new String[2 + topics.size()];
    scriptKeys[0] = keys.meta;
    scriptKeys[1] = keys.dropped;
    args[0] = Long.toString(cutoff());
    args[1] = Long.toString(highestSeen.get());
    int i = 2;
    for (String topic : topics) {
      scriptKeys[i] = keys.stream(topic);
      args[i] = topic;
      i++;
    }
    String through =
        await(
            Script.DROPPED.run(redis, ScriptOutputType.VALUE, scriptKeys, args),
            "read what retention dropped");
    return Long.parseLong(through);
  }

  /**
   * Starts announcing {@code topic}'s events, from every node, to the listener: subscribes to the
   * topic's channel on the first call and waits (up to the command timeout) until Redis confirmed
   * the subscription. If Redis is unreachable it returns anyway; the log catches up once Redis is
   * back. Calls are counted.
   */
  @Override
  public CompletableFuture<Void> watch(String topic) {
    Topics.check(topic);
    if (closed) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> ready;
    synchronized (interests) {
      Interest interest = interests.get(topic);
      if (interest == null) {
        interest = new Interest();
        interests.put(topic, interest);
        interest.ready = subscribe(topic, interest);
      }
      interest.count++;
      ready = interest.ready;
    }
    // Never exceptionally: if Redis does not answer in time, subscribe() has put the log in
    // catch-up mode, and the topic is announced once Redis is back.
    return ready
        .handle(
            (done, failure) -> {
              if (failure != null) {
                LOG.log(Level.DEBUG, "watching " + topic + " is delayed: " + failure);
              }
              return (Void) null;
            })
        .completeOnTimeout(null, timeoutMillis + 500, TimeUnit.MILLISECONDS);
  }

  /** Undoes one {@link #watch}; the last one unsubscribes from the topic's channel. */
  @Override
  public void unwatch(String topic) {
    Objects.requireNonNull(topic, "topic");
    synchronized (interests) {
      Interest interest = interests.get(topic);
      if (interest == null) {
        // A caller's bug, but not worth failing a subscription's close over.
        LOG.log(Level.WARNING, "unwatch of a topic that is not watched: " + topic);
        return;
      }
      if (--interest.count > 0) {
        return;
      }
      interests.remove(topic);
      if (!closed) {
        // Sent after this topic's SUBSCRIBE on the same connection, so Redis applies it last.
        pubSub
            .async()
            .unsubscribe(keys.channel(topic))
            .whenComplete(
                (ok, error) -> {
                  if (error != null) {
                    // Notifications that still arrive are ignored: the topic is not watched.
                    LOG.log(Level.DEBUG, "unsubscribing from " + topic + " failed: " + error);
                  }
                });
      }
    }
  }

  /**
   * Whether Redis answers: both connections are up, the last probe was answered, and none has been
   * waiting for an answer longer than a second (or the command timeout, if shorter). The log probes
   * every second with a cheap read of the deployment's meta key (so on Cluster it asks the master
   * that holds the deployment's slot), one probe at a time, so this costs nothing and notices Redis
   * hanging (a connection that stays open while Redis does not answer) within about two seconds.
   */
  @Override
  public boolean isAvailable() {
    if (closed || !connection.isOpen() || !pubSub.isOpen()) {
      return false;
    }
    long sent = probeSentAt.get();
    if (sent != 0 && System.nanoTime() - sent > probeTimeoutNanos) {
      return false; // Redis hangs
    }
    return probeAnswered;
  }

  /** Sends a probe unless one is in flight. */
  private void probe() {
    long now = System.nanoTime();
    if (closed || !probeSentAt.compareAndSet(0, now == 0 ? 1 : now)) {
      return;
    }
    CompletableFuture<Long> answer;
    try {
      answer = redis.exists(keys.meta).toCompletableFuture();
    } catch (RuntimeException e) {
      answer = null;
    }
    if (answer == null || answer.isCompletedExceptionally()) {
      // Refused unsent: the connection is down, which isAvailable sees anyway. Not an answer of
      // Redis, so it must not outlive the reconnect.
      probeSentAt.set(0);
      return;
    }
    answer.whenComplete(
        (exists, error) -> {
          probeAnswered = error == null;
          probeSentAt.set(0);
        });
  }

  /**
   * Closes the connections; appends still in flight fail with {@link
   * PublishOutcomeUnknownException} (Redis may have stored them).
   */
  @Override
  public void close() {
    synchronized (interests) {
      if (closed) {
        return;
      }
      closed = true;
    }
    dispatch(
        () -> {
          deferWaiting();
          releaseDeferred();
        });
    probes.cancel(false);
    announcer.shutdown();
    try {
      if (!announcer.awaitTermination(timeoutMillis + 1000, TimeUnit.MILLISECONDS)) {
        announcer.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    pubSub.close();
    connection.close();
    connector.close();
  }

  @Override
  public String toString() {
    return "RedisEventLog{" + target + ", " + keys.meta + ", " + retention + "}";
  }

  /**
   * Stops hearing this node's barriers, as a failed link between Cluster nodes would. For tests.
   */
  void loseBarriers() throws Exception {
    pubSub.async().unsubscribe(barrier).get(timeoutMillis + 500, TimeUnit.MILLISECONDS);
  }

  /** Whether the command connection is up: Lettuce refuses commands while it is not. For tests. */
  boolean commandsConnected() {
    return connection.isOpen();
  }

  /** Deletes expired events of quiet topics now; normally every 30 s. For tests. */
  CompletableFuture<Void> sweepNow() {
    return sweepRound(0);
  }

  /** The watermark: the newest id announced so far. For tests; waits for the announcer. */
  long announcedThrough() throws Exception {
    CompletableFuture<Long> id = new CompletableFuture<>();
    announcer.execute(() -> id.complete(watermark));
    return id.get(10, TimeUnit.SECONDS);
  }

  // ---------------------------------------------------------------------------------------------
  // Watching and announcing

  private CompletableFuture<Void> subscribe(String topic, Interest interest) {
    CompletableFuture<Void> ready;
    try {
      ready =
          pubSub
              .async()
              .subscribe(keys.channel(topic))
              .toCompletableFuture()
              // Events up to the id read now were published before the subscription, so they
              // were never due to be announced: a catch-up skips them.
              .thenCompose(subscribed -> redis.hget(keys.meta, "seq").toCompletableFuture())
              .thenAccept(seq -> interest.since = seq == null ? 0 : Long.parseLong(seq));
    } catch (RuntimeException e) {
      ready = CompletableFuture.failedFuture(e);
    }
    ready.whenComplete(
        (ok, error) -> {
          if (error != null) {
            dispatch(this::onDisconnected);
            dispatch(this::catchUp);
          }
        });
    return ready;
  }

  private boolean watchesAny(Set<String> topics) {
    synchronized (interests) {
      for (String topic : topics) {
        if (interests.containsKey(topic)) {
          return true;
        }
      }
      return false;
    }
  }

  /** A notification, on the announcer thread, in the order Redis sent them. */
  private void onNotification(String payload) {
    if (gap || closed) {
      // The catch-up that ends the gap reads this event from its stream.
      return;
    }
    StoredEvent event;
    try {
      if (Wire.notificationId(payload) <= watermark) {
        return; // the same event, published to another watched topic
      }
      event = Wire.notification(payload);
    } catch (RuntimeException e) {
      // Only the publish script writes to these channels; anything else is not ours.
      LOG.log(Level.WARNING, "ignored a malformed notification on a Herald channel", e);
      return;
    }
    if (!watchesAny(event.topics())) {
      return; // an unsubscribe still in flight
    }
    watermark = event.id();
    highestSeen.accumulateAndGet(watermark, Math::max);
    announce(List.of(event));
  }

  private void announce(List<StoredEvent> events) {
    Listener current = listener;
    if (current == null) {
      return;
    }
    try {
      current.onAppended(events);
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "the event log listener failed", e);
    }
  }

  private void onDisconnected() {
    if (!gap && !closed) {
      LOG.log(Level.WARNING, "lost the Redis notification connection to " + target);
    }
    gap = true;
    deferWaiting(); // their barriers may be lost; the catch-up reads their events
  }

  /**
   * Ends a gap: resubscribes to every watched topic, then reads their streams after the watermark
   * and announces what was missed, in order. Notifications that arrive meanwhile queue behind this
   * task and are dropped as repeats; those that arrived before it were dropped in the gap, and
   * their events are in the streams it reads. Retried until it succeeds.
   */
  private void catchUp() {
    catchUpScheduled = false;
    if (!gap || closed) {
      return;
    }
    Map<String, Long> since = new HashMap<>();
    synchronized (interests) {
      interests.forEach((topic, interest) -> since.put(topic, interest.since));
    }
    try {
      List<String> channels = new ArrayList<>(List.of(barrier));
      since.keySet().forEach(topic -> channels.add(keys.channel(topic)));
      await(pubSub.async().subscribe(channels.toArray(new String[0])), "resubscribe");
      TreeMap<Long, StoredEvent> missed = new TreeMap<>();
      List<String> topics = new ArrayList<>(since.keySet());
      for (int from = 0; from < topics.size(); from += CATCH_UP_TOPICS) {
        Set<String> chunk =
            new HashSet<>(topics.subList(from, Math.min(topics.size(), from + CATCH_UP_TOPICS)));
        long after = watermark;
        long dropped = watermark > 0 ? droppedThrough(chunk) : 0;
        if (dropped > watermark) {
          // Retention removed events this node never announced: its live subscribers of these
          // topics missed them, and no catch-up can bring them back.
          LOG.log(
              Level.WARNING,
              "retention dropped events up to id "
                  + dropped
                  + " before this node could announce them (it had announced up to "
                  + watermark
                  + "); live subscribers of some of "
                  + chunk
                  + " missed them");
        }
        while (true) {
          List<StoredEvent> page = readAfter(chunk, after, CATCH_UP_PAGE);
          for (StoredEvent event : page) {
            missed.put(event.id(), event);
          }
          if (page.size() < CATCH_UP_PAGE) {
            break;
          }
          after = page.get(page.size() - 1).id();
        }
      }
      List<StoredEvent> fresh = new ArrayList<>();
      for (StoredEvent event : missed.values()) {
        for (String topic : event.topics()) {
          Long from = since.get(topic);
          if (from != null && event.id() > from) {
            fresh.add(event);
            break;
          }
        }
      }
      if (!fresh.isEmpty()) {
        watermark = fresh.get(fresh.size() - 1).id();
        highestSeen.accumulateAndGet(watermark, Math::max);
        announce(Collections.unmodifiableList(fresh));
      }
      gap = false;
      LOG.log(
          Level.INFO,
          "Redis notifications from " + target + " resumed; caught up " + fresh.size() + " events");
      releaseDeferred();
    } catch (RuntimeException e) {
      LOG.log(Level.DEBUG, "catching up with Redis failed, retrying: " + e);
      if (!catchUpScheduled && !closed) {
        catchUpScheduled = true;
        try {
          ScheduledFuture<?> unused =
              announcer.schedule(this::catchUp, CATCH_UP_RETRY_MILLIS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException closing) {
          catchUpScheduled = false;
        }
      }
    }
  }

  /**
   * Redis replied to an append, on the announcer thread. An append that waits for its barrier
   * completes once the barrier arrived: every notification of the batch was announced before it.
   */
  private void replied(
      long token, CompletableFuture<List<StoredEvent>> result, List<StoredEvent> events) {
    Waiting waiter = waiting.get(token);
    if (waiter == null || waiter.passed || gap || closed) {
      // No local subscriber wanted the events, or they were announced, or (in a gap, closing) they
      // will be announced on catch-up, which a shared log need not wait for.
      waiting.remove(token);
      result.complete(events);
      return;
    }
    waiter.result = result;
    waiter.events = events;
    try {
      waiter.timer =
          announcer.schedule(() -> barrierMissed(token), timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closing) {
      waiting.remove(token);
      result.complete(events);
    }
  }

  /** This node's barrier token arrived after the notifications of its append, on the announcer. */
  private void onBarrier(String message) {
    if (gap || closed) {
      return; // the notifications before it were dropped: the catch-up completes the append
    }
    Waiting waiter;
    try {
      waiter = waiting.get(Long.parseLong(message));
    } catch (NumberFormatException e) {
      return; // only the publish script writes to this channel
    }
    if (waiter == null) {
      return;
    }
    if (waiter.events == null) {
      waiter.passed = true; // Redis' reply is still on its way
      return;
    }
    waiting.values().remove(waiter);
    waiter.timer.cancel(false);
    waiter.result.complete(waiter.events);
  }

  /**
   * An append's barrier did not arrive in time although the notification connection is up: Redis
   * Cluster drops Pub/Sub messages when a link between its nodes fails. The streams have every
   * event: catch up from them, then complete the append.
   */
  private void barrierMissed(long token) {
    Waiting waiter = waiting.remove(token);
    if (waiter == null) {
      return;
    }
    if (closed) {
      waiter.result.complete(waiter.events); // stored; nothing more will be announced
      return;
    }
    LOG.log(
        Level.WARNING,
        "a notification from Redis at " + target + " did not arrive in time; reading the streams");
    afterCatchUp.add(() -> waiter.result.complete(waiter.events));
    gap = true;
    catchUp();
  }

  /**
   * Appends whose events Redis stored: those waiting for their barrier complete after a catch-up.
   */
  private void deferWaiting() {
    waiting
        .values()
        .removeIf(
            waiter -> {
              if (waiter.events == null) {
                return false; // completes when Redis replies
              }
              waiter.timer.cancel(false);
              afterCatchUp.add(() -> waiter.result.complete(waiter.events));
              return true;
            });
  }

  private void releaseDeferred() {
    List<Runnable> ready = new ArrayList<>(afterCatchUp);
    afterCatchUp.clear();
    ready.forEach(Runnable::run);
  }

  private void dispatch(Runnable task) {
    try {
      announcer.execute(task);
    } catch (RejectedExecutionException e) {
      LOG.log(Level.DEBUG, "the Redis event log is closed; dropped a task");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Retention sweep

  private void sweep() {
    CompletableFuture<Void> unused =
        sweepRound(0)
            .whenComplete(
                (ok, error) -> {
                  if (error != null) {
                    LOG.log(Level.DEBUG, "retention sweep failed: " + error);
                  }
                });
  }

  private CompletableFuture<Void> sweepRound(int round) {
    if (closed) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Long> swept =
        Script.SWEEP.run(
            redis,
            ScriptOutputType.INTEGER,
            new String[] {keys.dropped, keys.oldest},
            Long.toString(cutoff()),
            Integer.toString(retention.maxCount()),
            keys.streamPrefix,
            Integer.toString(SWEEP_BATCH));
    return swept.thenCompose(
        count ->
            count >= SWEEP_BATCH && round + 1 < SWEEP_ROUNDS
                ? sweepRound(round + 1)
                : CompletableFuture.completedFuture(null));
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /** Events stored at or before this instant (ms) are past their retention age. */
  private long cutoff() {
    return clock.millis() - maxAgeMillis;
  }

  private <T> T await(CompletionStage<T> stage, String what) {
    try {
      return stage.toCompletableFuture().get(timeoutMillis + 500, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StoreUnavailableException("interrupted while waiting for Redis to " + what, e);
    } catch (ExecutionException e) {
      throw unavailable(what, e.getCause());
    } catch (TimeoutException e) {
      throw new StoreUnavailableException(
          "Redis at " + target + " did not answer in time to " + what, e);
    }
  }

  private StoreUnavailableException unavailable(String what, Throwable cause) {
    if (cause instanceof CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    if (cause instanceof StoreUnavailableException e) {
      return e;
    }
    return new StoreUnavailableException(
        "Redis at " + target + " is unavailable, could not " + what + ": " + cause.getMessage(),
        cause);
  }

  private StoreUnavailableException closedException() {
    return new StoreUnavailableException("the Redis event log is closed");
  }

  private static long millis(Duration duration) {
    try {
      return duration.toMillis();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE / 4; // longer than anything stored can be old
    }
  }

  /** An append waiting for its barrier; on the announcer thread. */
  private static final class Waiting {
    CompletableFuture<List<StoredEvent>> result; // with events, once Redis replied
    List<StoredEvent> events;
    boolean passed; // the barrier arrived before Redis' reply
    ScheduledFuture<?> timer;
  }

  /** One watched topic: how many watches, and its subscription. */
  private static final class Interest {
    int count;
    CompletableFuture<Void> ready;
    volatile long since;
  }

  /** Builds a {@link RedisEventLog}. */
  public static final class Builder {
    private String uri = "redis://127.0.0.1:6379";
    private String keyPrefix = "herald:";
    private Retention retention = Retention.DEFAULT;
    private Clock clock = Clock.systemUTC();
    private Duration commandTimeout = Duration.ofSeconds(2);

    private Builder() {}

    /**
     * Sets where Redis is: {@code redis://[:password@]host[:port][/database]}, {@code rediss://}
     * for TLS, {@code redis-sentinel://...} (any URI Lettuce's {@code RedisURI} reads), or a Redis
     * Cluster: {@code redis-cluster://[:password@]host:port[,host:port...]} ({@code
     * rediss-cluster://} for TLS) listing seed nodes; default {@code redis://127.0.0.1:6379}.
     *
     * @throws IllegalArgumentException if it is not a Redis URI
     */
    public Builder uri(String uri) {
      Objects.requireNonNull(uri, "uri");
      Connector.check(uri); // fail here, not at build()
      this.uri = uri;
      return this;
    }

    /**
     * Sets the prefix of every key and channel; default {@code herald:}. Deployments sharing one
     * Redis need different prefixes.
     */
    public Builder keyPrefix(String keyPrefix) {
      this.keyPrefix = Keys.checkPrefix(keyPrefix);
      return this;
    }

    /** Sets the per-topic retention; default {@link Retention#DEFAULT}. */
    public Builder retention(Retention retention) {
      this.retention = Objects.requireNonNull(retention, "retention");
      return this;
    }

    /**
     * Sets the clock for timestamps and retention by age (ids come from Redis); default system UTC.
     * Every node of a deployment should keep its clock in sync.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Sets how long a command may take before it fails with {@link StoreUnavailableException}; also
     * the connect timeout. An append whose answer does not come in time is looked for (see the
     * class comment) for up to one more timeout, so it is answered within about twice this. Default
     * 2 s.
     */
    public Builder commandTimeout(Duration commandTimeout) {
      this.commandTimeout = Keys.positive(commandTimeout, "commandTimeout");
      return this;
    }

    /**
     * Connects to Redis and returns the log.
     *
     * @throws StoreUnavailableException if Redis cannot be reached
     */
    public RedisEventLog build() {
      return new RedisEventLog(this);
    }
  }
}
