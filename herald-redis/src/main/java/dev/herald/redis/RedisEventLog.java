package dev.herald.redis;

import dev.herald.server.EventLog;
import dev.herald.server.Publication;
import dev.herald.server.Retention;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.StoredEvent;
import dev.herald.server.Topics;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.protocol.ProtocolVersion;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.lang.System.Logger.Level;
import java.net.SocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
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
 *     .uri("redis://:secret@redis.internal:6379/0")   // rediss:// for TLS
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
 * {@code always}, to match what you need). If Redis cannot be reached the future fails within the
 * {@linkplain Builder#commandTimeout command timeout} with {@link StoreUnavailableException}; a
 * timeout cannot tell whether Redis ran the script, so such an event may still appear (it is then
 * announced like any other), but an event is never reported stored unless Redis acknowledged it.
 *
 * <p><b>Announcing</b>: each node subscribes only to the channels of topics it {@linkplain #watch
 * watches} (counted; the broker watches the topics of its subscriptions), so a node hears only what
 * its subscribers want. Notifications reach a node on one connection in the order the scripts ran,
 * which is id order; an event of several watched topics arrives once per topic and is announced
 * once (a watermark of the last announced id drops the repeats). Announcements run on one thread of
 * this log, in strictly increasing id order. When an append touches a watched topic, its future
 * completes only after a {@code PING} sent on the notification connection behind it has returned
 * and everything received before it was announced: the listener has heard of the event first, as
 * {@link EventLog} requires. If the notification connection drops, the log stops announcing, and
 * when Redis is back it resubscribes, reads every watched topic's stream after the last announced
 * id, announces what it missed in order, and only then resumes live notifications: no gap, no
 * duplicate. (If the connection stays down while the command connection works, appends complete
 * without waiting; their events are announced on catch-up.)
 *
 * <p><b>Retention</b>: each stream is trimmed exactly to {@link Retention#maxCount()} on publish;
 * events older than {@link Retention#maxAge()} (by the publishing node's clock, never decreasing)
 * are never read and count as dropped at once; they are deleted when their topic is next published
 * to, or by a sweep every node runs every 30 seconds. The newest dropped id of each topic is kept
 * in a hash, for {@link #droppedThrough}.
 *
 * <p><b>Single Redis or Redis Cluster</b>: every key of a deployment begins with the key prefix
 * wrapped in a hash tag ({@code {herald:}meta}, {@code {herald:}s:<topic>}, ...), so on Cluster all
 * of them live in one hash slot: a publish touches the sequence and several topics' streams
 * atomically, which Cluster only allows within one slot. Cluster therefore could give high
 * availability through replicas, never write scaling (one deployment is one shard); for more write
 * throughput run separate deployments (key prefixes) on separate shards. This log connects with
 * Lettuce's standalone client: point it at one Redis (or at the master owning the slot), and get
 * failover from Redis Sentinel ({@code redis-sentinel://} URIs), which that client follows; it does
 * not follow Cluster redirects. Requires Redis 6.2 or later (RESP3, {@code XTRIM MINID}); use
 * {@code maxmemory-policy noeviction}, since evicting a stream would lose history silently.
 *
 * <p><b>Memory</b>: each retained event is stored once per topic it was published to (type, data,
 * topics, timestamp: about its size plus 100 bytes per copy), up to {@code maxCount} per topic;
 * plus about 100 bytes per topic with retained events in the sweep index, and per topic that ever
 * lost an event to retention in the drop hash (kept for good, so a client resuming from before the
 * loss always gets a {@code reset}). Size Redis for {@code topics x maxCount x average event size}.
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

  /** Ids stay below 2^53, so the Lua scripts hold them exactly in their double numbers. */
  private static final long MAX_ID = 1L << 53;

  private final Keys keys;
  private final Retention retention;
  private final long maxAgeMillis;
  private final Clock clock;
  private final long timeoutMillis;
  private final String target;
  private final ClientResources resources;
  private final RedisClient client;
  private final StatefulRedisConnection<String, String> connection;
  private final RedisAsyncCommands<String, String> redis;
  private final StatefulRedisPubSubConnection<String, String> pubSub;

  /** Announces, completes appends and catches up: one thread, so all of it is in order. */
  private final ScheduledThreadPoolExecutor announcer;

  /** The watched topics; guarded by itself. */
  private final Map<String, Interest> interests = new HashMap<>();

  /**
   * The newest id this node has seen: the publish script never assigns ids below it, so ids are not
   * reused even if Redis lost its data and its clock is behind the one that issued them.
   */
  private final AtomicLong highestSeen = new AtomicLong();

  private volatile Listener listener;
  private volatile boolean closed;

  // Confined to the announcer thread.
  private long watermark;
  private boolean gap;
  private boolean catchUpScheduled;
  private final List<Runnable> afterCatchUp = new ArrayList<>();

  private RedisEventLog(Builder builder) {
    this.keys = new Keys(builder.keyPrefix);
    this.retention = builder.retention;
    this.maxAgeMillis = millis(builder.retention.maxAge());
    this.clock = builder.clock;
    this.timeoutMillis = builder.commandTimeout.toMillis();
    RedisURI uri = RedisURI.create(builder.uri);
    uri.setTimeout(builder.commandTimeout);
    this.target = uri.getHost() + ":" + uri.getPort() + "/" + uri.getDatabase();
    this.resources =
        ClientResources.builder()
            .ioThreadPoolSize(2)
            .computationThreadPoolSize(2)
            // Come back quickly after an outage: subscribers wait for the catch-up.
            .reconnectDelay(
                Delay.exponential(
                    Duration.ofMillis(20), Duration.ofSeconds(1), 2, TimeUnit.MILLISECONDS))
            .build();
    this.client = RedisClient.create(resources, uri);
    client.setOptions(
        ClientOptions.builder()
            .autoReconnect(true)
            // Fail fast while disconnected instead of queueing: publishers get a 503 at once.
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
            // RESP3: commands (PING) and notifications share the subscriber connection.
            .protocolVersion(ProtocolVersion.RESP3)
            .timeoutOptions(TimeoutOptions.enabled(builder.commandTimeout))
            .socketOptions(
                SocketOptions.builder()
                    .connectTimeout(builder.commandTimeout)
                    // A subscriber connection is mostly idle: without keep-alive a silently dead
                    // one (a NAT or balancer dropped it) would go unnoticed, and so would the gap.
                    .keepAlive(
                        SocketOptions.KeepAliveOptions.builder()
                            .enable()
                            .idle(Duration.ofSeconds(15))
                            .interval(Duration.ofSeconds(5))
                            .count(3)
                            .build())
                    .build())
            .build());
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
    StatefulRedisConnection<String, String> commands = null;
    StatefulRedisPubSubConnection<String, String> subscriber = null;
    try {
      commands = client.connect();
      subscriber = client.connectPubSub();
    } catch (RuntimeException e) {
      if (commands != null) {
        commands.close();
      }
      announcer.shutdownNow();
      shutdownClient();
      throw new StoreUnavailableException("cannot connect to Redis at " + target, e);
    }
    this.connection = commands;
    this.redis = commands.async();
    this.pubSub = subscriber;
    pubSub.addListener(
        new RedisPubSubAdapter<String, String>() {
          @Override
          public void message(String channel, String message) {
            // On Lettuce's I/O thread, in the order Redis sent them: hand over, never block.
            dispatch(() -> onNotification(message));
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
    ScheduledFuture<?> unused =
        announcer.scheduleWithFixedDelay(
            this::sweep, SWEEP_INTERVAL_SECONDS, SWEEP_INTERVAL_SECONDS, TimeUnit.SECONDS);
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
    Map<String, Integer> index = new LinkedHashMap<>();
    for (Publication publication : batch) {
      for (String topic : publication.topics()) {
        index.putIfAbsent(topic, index.size() + 1);
      }
    }
    String[] scriptKeys = new String[3 + index.size()];
    scriptKeys[0] = keys.meta;
    scriptKeys[1] = keys.dropped;
    scriptKeys[2] = keys.oldest;
    List<String> args = new ArrayList<>();
    args.add(Long.toString(clock.millis()));
    args.add(Integer.toString(retention.maxCount()));
    args.add(Long.toString(maxAgeMillis));
    args.add(keys.channelPrefix);
    args.add(Long.toString(highestSeen.get()));
    args.add(Integer.toString(index.size()));
    for (Map.Entry<String, Integer> topic : index.entrySet()) {
      scriptKeys[2 + topic.getValue()] = keys.stream(topic.getKey());
      args.add(topic.getKey());
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
    CompletableFuture<List<StoredEvent>> result = new CompletableFuture<>();
    CompletableFuture<List<Object>> reply;
    try {
      reply =
          Script.PUBLISH.run(
              redis, ScriptOutputType.MULTI, scriptKeys, args.toArray(new String[0]));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(unavailable("append", e));
    }
    reply.whenComplete(
        (ids, error) -> {
          if (error != null) {
            result.completeExceptionally(unavailable("append", error));
            return;
          }
          List<StoredEvent> stored = new ArrayList<>(batch.size());
          try {
            String timestamp = (String) ids.get(0);
            for (int i = 0; i < batch.size(); i++) {
              Publication publication = batch.get(i);
              stored.add(
                  StoredEvent.of(
                      Long.parseLong((String) ids.get(i + 1)),
                      publication.topics(),
                      publication.event(),
                      Instant.ofEpochMilli(Long.parseLong(timestamp))));
            }
          } catch (RuntimeException e) {
            result.completeExceptionally(
                new StoreUnavailableException("unexpected reply from Redis: " + ids, e));
            return;
          }
          List<StoredEvent> events = Collections.unmodifiableList(stored);
          highestSeen.accumulateAndGet(stored.get(stored.size() - 1).id(), Math::max);
          if (watchesAny(index.keySet())) {
            // The notifications precede the PONG on the subscriber connection, so once the PONG
            // has passed through the announcer, every notification of this batch has too.
            pubSub
                .async()
                .ping()
                .whenComplete((pong, failed) -> complete(result, events, failed == null));
          } else {
            // No local subscriber wants these events: nothing to announce first.
            complete(result, events, false);
          }
        });
    return result;
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
  public void watch(String topic) {
    Topics.check(topic);
    if (closed) {
      return;
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
    try {
      ready.get(timeoutMillis + 500, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // subscribe() has put the log in catch-up mode: the topic is announced once Redis is back.
      LOG.log(Level.DEBUG, "watching " + topic + " is delayed: " + e);
    }
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

  /** Whether both connections to Redis are up. */
  @Override
  public boolean isAvailable() {
    return !closed && connection.isOpen() && pubSub.isOpen();
  }

  /** Closes the connections; appends still in flight fail with StoreUnavailableException. */
  @Override
  public void close() {
    synchronized (interests) {
      if (closed) {
        return;
      }
      closed = true;
    }
    dispatch(this::releaseDeferred);
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
    shutdownClient();
  }

  @Override
  public String toString() {
    return "RedisEventLog{" + target + ", " + keys.meta + ", " + retention + "}";
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
      if (!since.isEmpty()) {
        String[] channels = since.keySet().stream().map(keys::channel).toArray(String[]::new);
        await(pubSub.async().subscribe(channels), "resubscribe");
      }
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
   * Completes an append on the announcer thread: after every notification received before its PONG
   * was announced. In a gap (the notifications were dropped) it waits for the catch-up.
   */
  private void complete(
      CompletableFuture<List<StoredEvent>> result, List<StoredEvent> events, boolean waited) {
    Runnable completion = () -> result.complete(events);
    try {
      announcer.execute(
          () -> {
            if (waited && gap && !closed) {
              afterCatchUp.add(completion);
            } else {
              completion.run();
            }
          });
    } catch (RejectedExecutionException e) {
      completion.run(); // closing: the event is stored, nothing more will be announced
    }
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

  private void shutdownClient() {
    try {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    } finally {
      resources.shutdown(0, 2, TimeUnit.SECONDS);
    }
  }

  private static long millis(Duration duration) {
    try {
      return duration.toMillis();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE / 4; // longer than anything stored can be old
    }
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
     * for TLS, {@code redis-sentinel://...} (any URI Lettuce's {@code RedisURI} reads); default
     * {@code redis://127.0.0.1:6379}.
     *
     * @throws IllegalArgumentException if it is not a Redis URI
     */
    public Builder uri(String uri) {
      Objects.requireNonNull(uri, "uri");
      RedisURI.create(uri); // fail here, not at build()
      this.uri = uri;
      return this;
    }

    /**
     * Sets the prefix of every key and channel; default {@code herald:}. Deployments sharing one
     * Redis need different prefixes.
     */
    public Builder keyPrefix(String keyPrefix) {
      Objects.requireNonNull(keyPrefix, "keyPrefix");
      if (keyPrefix.isEmpty()) {
        throw new IllegalArgumentException("keyPrefix must not be empty");
      }
      this.keyPrefix = keyPrefix;
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
     * the connect timeout. Default 2 s.
     */
    public Builder commandTimeout(Duration commandTimeout) {
      Objects.requireNonNull(commandTimeout, "commandTimeout");
      if (commandTimeout.isNegative() || commandTimeout.isZero()) {
        throw new IllegalArgumentException("commandTimeout must be positive: " + commandTimeout);
      }
      this.commandTimeout = commandTimeout;
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
