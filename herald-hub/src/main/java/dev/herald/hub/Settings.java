package dev.herald.hub;

import dev.herald.hub.internal.auth.TokenVerifier;
import dev.herald.server.Broker;
import dev.herald.server.MemoryEventLog;
import dev.herald.server.spi.EventLog;
import dev.herald.server.spi.Presence;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A {@link Hub}'s configuration: what {@link Hub.Builder} sets (and checks), and what the hub and
 * its {@link Running} state read. Mutable while the builder fills it; each hub gets its own {@link
 * #copy}.
 */
final class Settings implements Cloneable {
  int port = Hub.DEFAULT_PORT;
  String bind = Hub.DEFAULT_BIND;
  // A fresh memory log per build unless one is given: each hub closes its log.
  Supplier<EventLog> logs = () -> MemoryEventLog.builder().build();
  Optional<Presence> presence = Optional.empty();
  Duration heartbeat = Broker.DEFAULT_HEARTBEAT;
  int maxEventBytes = Hub.DEFAULT_MAX_EVENT_BYTES;
  long maxBufferBytes = Hub.DEFAULT_MAX_BUFFER_BYTES;
  int maxConnections = Hub.defaultMaxConnections();
  int maxConnectionsPerIp;
  Clock clock = Clock.systemUTC();
  Function<Duration, TokenVerifier> key;
  Duration clockSkew = Hub.DEFAULT_CLOCK_SKEW;
  boolean queryTokens = true;
  boolean allowAnonymous;
  Set<String> corsOrigins = new LinkedHashSet<>();
  int maxNewConnectionsPerSecond = Hub.DEFAULT_NEW_CONNECTIONS_PER_SECOND;
  double publishRate = Hub.DEFAULT_PUBLISH_RATE;
  int maxBatchEvents = Hub.DEFAULT_MAX_BATCH_EVENTS;
  Duration idempotencyWindow = Hub.DEFAULT_IDEMPOTENCY_WINDOW;
  int ioThreads = Runtime.getRuntime().availableProcessors();
  Duration requestHeadTimeout = Hub.DEFAULT_REQUEST_HEAD_TIMEOUT;
  Duration requestBodyTimeout = Hub.DEFAULT_REQUEST_BODY_TIMEOUT;
  Duration idleTimeout = Hub.DEFAULT_IDLE_TIMEOUT;
  boolean console = true;
  Optional<Path[]> tls = Optional.empty();
  int maxStreamsPerConnection = Hub.DEFAULT_MAX_STREAMS_PER_CONNECTION;
  Duration drain = Hub.DEFAULT_DRAIN;

  /** A copy the builder's later changes do not touch. */
  Settings copy() {
    try {
      Settings copy = (Settings) clone();
      copy.corsOrigins = Set.copyOf(corsOrigins);
      return copy;
    } catch (CloneNotSupportedException e) {
      throw new AssertionError(e);
    }
  }
}
