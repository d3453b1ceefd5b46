package dev.herald.spring.boot;

import dev.herald.server.BrokerListener;
import dev.herald.server.CloseReason;
import dev.herald.server.StoredEvent;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The broker's meters, under the hub's names, bound to the application's {@link MeterRegistry}:
 * Spring Boot binds every {@link MeterBinder} bean, and the auto-configured broker takes every
 * {@link BrokerListener} bean. It counts from the broker's start, whenever the registry binds it.
 *
 * <ul>
 *   <li>{@code herald.subscriptions.active}: streams open now
 *   <li>{@code herald.subscriptions.closed{reason}}: streams ended, by reason ({@code
 *       client_closed}, {@code slow_consumer}, {@code shutdown}...)
 *   <li>{@code herald.slow.consumer.closes}: streams closed because the client read too slowly
 *   <li>{@code herald.events.published}: events stored and fanned out
 *   <li>{@code herald.events.delivered}: event frames handed to live streams
 *   <li>{@code herald.events.replayed}: events replayed from the store to resuming streams
 *   <li>{@code herald.replay.batch}: events per replayed batch (one page read from the store and
 *       written to one stream), a distribution
 * </ul>
 *
 * <p>With your own {@code Broker} bean, pass it yourself: {@code
 * Broker.builder().listener(heraldMetrics)}.
 */
public final class HeraldMetrics implements BrokerListener, MeterBinder {
  private final AtomicInteger active = new AtomicInteger();
  private final LongAdder published = new LongAdder();
  private final LongAdder delivered = new LongAdder();
  private final LongAdder replayed = new LongAdder();
  private final LongAdder slowConsumerCloses = new LongAdder();
  private final Map<CloseReason, LongAdder> closed = new EnumMap<>(CloseReason.class);
  private final List<DistributionSummary> replayBatches = new CopyOnWriteArrayList<>();

  /** Meters that count from now on. */
  public HeraldMetrics() {
    for (CloseReason reason : CloseReason.values()) {
      closed.put(reason, new LongAdder());
    }
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    Gauge.builder("herald.subscriptions.active", active, AtomicInteger::get)
        .description("Event streams open now")
        .register(registry);
    FunctionCounter.builder("herald.events.published", published, LongAdder::sum)
        .description("Events stored and fanned out")
        .register(registry);
    FunctionCounter.builder("herald.events.delivered", delivered, LongAdder::sum)
        .description("Event frames handed to live streams")
        .register(registry);
    FunctionCounter.builder("herald.events.replayed", replayed, LongAdder::sum)
        .description("Events replayed from the store to resuming streams")
        .register(registry);
    FunctionCounter.builder("herald.slow.consumer.closes", slowConsumerCloses, LongAdder::sum)
        .description("Streams closed because the client read too slowly")
        .register(registry);
    for (Map.Entry<CloseReason, LongAdder> entry : closed.entrySet()) {
      FunctionCounter.builder("herald.subscriptions.closed", entry.getValue(), LongAdder::sum)
          .description("Event streams ended, by reason")
          .tag("reason", entry.getKey().name().toLowerCase(Locale.ROOT))
          .register(registry);
    }
    replayBatches.add(
        DistributionSummary.builder("herald.replay.batch")
            .description("Events per replayed batch: one page of the store, written to one stream")
            .baseUnit("events")
            .register(registry));
  }

  @Override
  public void published(StoredEvent event, int reached) {
    published.increment();
  }

  @Override
  public void delivered(int count) {
    delivered.add(count);
  }

  @Override
  public void replayed(int count) {
    replayed.add(count);
    for (DistributionSummary summary : replayBatches) {
      summary.record(count);
    }
  }

  @Override
  public void subscriptionOpened() {
    active.incrementAndGet();
  }

  @Override
  public void subscriptionClosed(CloseReason reason) {
    active.decrementAndGet();
    closed.get(reason).increment();
    if (reason == CloseReason.SLOW_CONSUMER) {
      slowConsumerCloses.increment();
    }
  }
}
