package dev.herald.hub.internal.metrics;

import dev.herald.server.BrokerListener;
import dev.herald.server.CloseReason;
import dev.herald.server.StoredEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/**
 * The hub's meters, in one Prometheus registry: the broker's events (as a {@link BrokerListener})
 * and what the HTTP layer sees (connections, publish latency, store errors).
 */
public final class HubMetrics implements BrokerListener {
  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final IntSupplier connections;
  private final AtomicInteger activeSubscriptions = new AtomicInteger();
  private final Counter published;
  private final Counter delivered;
  private final Counter replayed;
  private final Counter slowConsumerCloses;
  private final Counter storeErrors;
  private final Timer publishLatency;
  private final Map<CloseReason, Counter> closedByReason = new EnumMap<>(CloseReason.class);

  /** Creates the meters; {@code connections} reports the open connections. */
  public HubMetrics(IntSupplier connections) {
    this.connections = connections;
    Gauge.builder("herald.connections", connections::getAsInt)
        .description("Open HTTP connections")
        .register(registry);
    Gauge.builder("herald.subscriptions.active", activeSubscriptions::get)
        .description("Event streams open now")
        .register(registry);
    published =
        Counter.builder("herald.events.published")
            .description("Events stored and fanned out")
            .register(registry);
    delivered =
        Counter.builder("herald.events.delivered")
            .description("Event frames handed to live streams")
            .register(registry);
    replayed =
        Counter.builder("herald.events.replayed")
            .description("Events replayed from the log to resuming streams")
            .register(registry);
    slowConsumerCloses =
        Counter.builder("herald.slow.consumer.closes")
            .description("Streams closed because the client read too slowly")
            .register(registry);
    storeErrors =
        Counter.builder("herald.store.errors")
            .description("Publishes refused because the store failed")
            .register(registry);
    publishLatency =
        Timer.builder("herald.publish.latency")
            .description("From a publish request to its durable acknowledgement")
            .publishPercentileHistogram()
            .minimumExpectedValue(Duration.ofMillis(1))
            .maximumExpectedValue(Duration.ofSeconds(10))
            .register(registry);
    for (CloseReason reason : CloseReason.values()) {
      closedByReason.put(
          reason,
          Counter.builder("herald.subscriptions.closed")
              .description("Event streams ended, by reason")
              .tag("reason", reason.name().toLowerCase(Locale.ROOT))
              .register(registry));
    }
  }

  /** Registers a gauge read from {@code value} at each scrape. */
  public void gauge(String name, String description, IntSupplier value) {
    Gauge.builder(name, value::getAsInt).description(description).register(registry);
  }

  @Override
  public void published(StoredEvent event, int reached) {
    published.increment();
  }

  @Override
  public void delivered(int count) {
    delivered.increment(count);
  }

  @Override
  public void replayed(int count) {
    replayed.increment(count);
  }

  @Override
  public void subscriptionOpened() {
    activeSubscriptions.incrementAndGet();
  }

  @Override
  public void subscriptionClosed(CloseReason reason) {
    activeSubscriptions.decrementAndGet();
    closedByReason.get(reason).increment();
    if (reason == CloseReason.SLOW_CONSUMER) {
      slowConsumerCloses.increment();
    }
  }

  /** Records a publish acknowledged after {@code nanos}. */
  public void publishAcknowledged(long nanos) {
    publishLatency.record(Duration.ofNanos(nanos));
  }

  /**
   * Counts a refused request under its reason code ({@code herald.refusals{reason=...}}). Codes are
   * the hub's own constants, never request text, so the label set stays small and holds no secret.
   */
  public void refused(String code) {
    Counter.builder("herald.refusals")
        .description("Requests refused, by reason code")
        .tag("reason", code)
        .register(registry)
        .increment();
  }

  /** Records a publish the store refused. */
  public void storeError() {
    storeErrors.increment();
  }

  /**
   * What the meters say now, for {@code GET /stats}: the gauges and the counters' totals since the
   * hub started.
   */
  public Totals totals() {
    Map<String, Long> refusals = new TreeMap<>();
    registry
        .find("herald.refusals")
        .counters()
        .forEach(c -> refusals.merge(c.getId().getTag("reason"), (long) c.count(), Long::sum));
    return new Totals(
        connections.getAsInt(),
        activeSubscriptions.get(),
        (long) published.count(),
        (long) delivered.count(),
        (long) replayed.count(),
        (long) slowConsumerCloses.count(),
        (long) storeErrors.count(),
        refusals);
  }

  /**
   * The hub's numbers at one moment.
   *
   * @param connections open HTTP connections
   * @param streams event streams open now
   * @param published events stored and fanned out since start
   * @param delivered event frames handed to live streams since start
   * @param replayed events replayed from the log since start
   * @param slowConsumerCloses streams closed for reading too slowly since start
   * @param storeErrors publishes refused because the store failed since start
   * @param refusals refused requests since start, by reason code, sorted by code
   */
  public record Totals(
      int connections,
      int streams,
      long published,
      long delivered,
      long replayed,
      long slowConsumerCloses,
      long storeErrors,
      Map<String, Long> refusals) {
    /** Copies the map. */
    public Totals {
      refusals = java.util.Collections.unmodifiableMap(new TreeMap<>(refusals));
    }
  }

  /** The Prometheus text exposition of every meter. */
  public String scrape() {
    return registry.scrape();
  }

  /** Releases the registry. */
  public void close() {
    registry.close();
  }
}
