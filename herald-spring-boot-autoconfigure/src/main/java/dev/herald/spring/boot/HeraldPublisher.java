package dev.herald.spring.boot;

import dev.herald.core.Event;
import dev.herald.server.Broker;
import dev.herald.server.Publication;
import dev.herald.server.StoredEvent;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * Publishes from application code in one call: inject it and publish to a topic. Data given as a
 * {@link CharSequence} is sent as it is; any other object is written as JSON by the application's
 * Jackson {@code ObjectMapper} (as the hub sends a JSON value as its compact text).
 *
 * <pre>{@code
 * publisher.publish("orders/" + order.id(), "shipped", order);      // JSON of the order
 * publisher.publish("news", "headline", "{\"title\": \"Herald ships\"}").join();
 * }</pre>
 *
 * <p>Every method returns once the broker accepted the event, with a future that completes with the
 * stored event (its id) once it is durable and handed to the live streams, or exceptionally with
 * {@link dev.herald.server.StoreUnavailableException} when nothing was published (the store failed,
 * or the application is shutting down) or {@link dev.herald.server.PublishOutcomeUnknownException}
 * when the store could not tell. An invalid topic or type is refused at once with an unchecked
 * exception ({@link dev.herald.server.InvalidTopicException}, {@link
 * dev.herald.core.InvalidEventException}). For batches, idempotency keys and reach, use the {@link
 * #broker()} itself.
 */
public final class HeraldPublisher {
  private final Broker broker;
  private final Function<Object, String> json;

  /**
   * A publisher on {@code broker} that writes data objects as JSON with {@code json}.
   *
   * @param json writes an object as JSON text; called only for data that is not a {@link
   *     CharSequence}
   */
  public HeraldPublisher(Broker broker, Function<Object, String> json) {
    this.broker = Objects.requireNonNull(broker, "broker");
    this.json = Objects.requireNonNull(json, "json");
  }

  /** Publishes {@code data} to {@code topic} as an event of type {@code message}. */
  public CompletableFuture<StoredEvent> publish(String topic, Object data) {
    return publish(Set.of(topic), Event.DEFAULT_TYPE, data);
  }

  /** Publishes {@code data} to {@code topic} as an event of type {@code type}. */
  public CompletableFuture<StoredEvent> publish(String topic, String type, Object data) {
    return publish(Set.of(topic), type, data);
  }

  /**
   * Publishes {@code data} to several topics as one event (one id): a stream of several of them
   * gets it once.
   */
  public CompletableFuture<StoredEvent> publish(Set<String> topics, String type, Object data) {
    Objects.requireNonNull(data, "data");
    String text = data instanceof CharSequence chars ? chars.toString() : json.apply(data);
    return broker.publish(new Publication(topics, Event.of(type, text)));
  }

  /** The broker it publishes to. */
  public Broker broker() {
    return broker;
  }
}
