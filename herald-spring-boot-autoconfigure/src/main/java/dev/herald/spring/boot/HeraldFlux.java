package dev.herald.spring.boot;

import dev.herald.core.internal.Checks;
import dev.herald.server.Broker;
import dev.herald.server.InvalidTopicException;
import dev.herald.server.Position;
import dev.herald.server.StoreUnavailableException;
import dev.herald.server.Topics;
import dev.herald.spring.boot.internal.FluxStreamSink;
import dev.herald.spring.boot.internal.FrameDecoder;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.codec.ServerSentEvent;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import reactor.core.scheduler.Scheduler;
import reactor.core.scheduler.Schedulers;

/**
 * Herald streams for WebFlux: a {@code Flux<ServerSentEvent<String>>} of the topics the application
 * chose, with the exact resume, {@code reset}, heartbeats and slow-consumer bound of every Herald
 * stream. The auto-configuration provides one; inject it.
 *
 * <pre>{@code
 * @GetMapping("/orders/{id}/events")
 * Flux<ServerSentEvent<String>> orderEvents(@PathVariable long id, ServerWebExchange exchange) {
 *   return herald.stream(exchange, Set.of("orders/" + id)); // after your own authorization
 * }
 * }</pre>
 *
 * <p>Each element is one event (its id, its type unless {@code message}, its data), a {@code reset}
 * event without id when the position cannot be resumed exactly, or a comment: {@code ok} first,
 * which opens the response once the subscription is live, then heartbeats. The flux honours
 * backpressure: it emits only what the response writer requests and holds at most {@code
 * maxBufferBytes} of events for a client that reads slower than they arrive; past that the stream
 * is closed as a slow consumer and the flux completes (the client resumes with {@code
 * Last-Event-ID}). It completes too when the application shuts down; cancelling it (the client went
 * away) ends the subscription.
 *
 * <p>Refusals are signalled as {@link StreamRefusedException}, which the auto-configuration answers
 * with a JSON error: 400 {@code topic_invalid} or {@code too_many_topics}, 503 {@code
 * shutting_down} or {@code store_unavailable}.
 */
public final class HeraldFlux {
  private final Broker broker;
  private final long maxBufferBytes;
  private final Scheduler scheduler;
  private final FrameDecoder decoder = new FrameDecoder();

  /**
   * Streams from {@code broker}, draining on Reactor's parallel scheduler.
   *
   * @param maxBufferBytes the most bytes of events that may wait for one slow client
   */
  public HeraldFlux(Broker broker, long maxBufferBytes) {
    this(broker, maxBufferBytes, Schedulers.parallel());
  }

  /**
   * Streams from {@code broker}, draining each stream's queue on {@code scheduler} (broker threads
   * only queue).
   *
   * @param maxBufferBytes the most bytes of events that may wait for one slow client
   */
  public HeraldFlux(Broker broker, long maxBufferBytes, Scheduler scheduler) {
    this.broker = Objects.requireNonNull(broker, "broker");
    this.maxBufferBytes = Checks.positive("maxBufferBytes", maxBufferBytes);
    this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
  }

  /**
   * Streams {@code topics} to the client of {@code exchange}, from the position its {@code
   * Last-Event-ID} header (or {@code ?lastEventId=} query parameter, for browsers) names, live only
   * if none. Sets {@code Cache-Control: no-store} and {@code X-Accel-Buffering: no}. A {@code HEAD}
   * request gets an empty flux, so the headers a {@code GET} would get and no subscription.
   */
  public Flux<ServerSentEvent<String>> stream(ServerWebExchange exchange, Set<String> topics) {
    ServerHttpRequest request = exchange.getRequest();
    String lastEventId = request.getHeaders().getFirst("Last-Event-ID");
    if (lastEventId == null) {
      lastEventId = request.getQueryParams().getFirst("lastEventId");
    }
    Position position = Position.parse(lastEventId == null ? "" : lastEventId);
    Optional<StreamRefusedException> refused = check(topics);
    if (refused.isPresent()) {
      return Flux.error(refused.get());
    }
    HttpHeaders headers = exchange.getResponse().getHeaders();
    headers.setCacheControl("no-store");
    headers.set("X-Accel-Buffering", "no");
    if (HttpMethod.HEAD.equals(request.getMethod())) {
      // WebFlux answers HEAD by reading the whole body and dropping it: an endless stream would
      // never be answered, and its subscription never released. No body, no subscription.
      return Flux.empty();
    }
    return stream(topics, position);
  }

  /**
   * Streams {@code topics} from {@code position}. The subscription opens when the flux is
   * subscribed to, once per subscriber. For a request, prefer {@link #stream(ServerWebExchange,
   * Set)}, which reads the position and answers {@code HEAD}.
   */
  public Flux<ServerSentEvent<String>> stream(Set<String> topics, Position position) {
    Objects.requireNonNull(topics, "topics");
    Objects.requireNonNull(position, "position");
    Optional<StreamRefusedException> refused = check(topics);
    if (refused.isPresent()) {
      return Flux.error(refused.get());
    }
    Set<String> checked = Topics.checkAll(topics);
    return Flux.create(
        emitter -> {
          FluxStreamSink sink =
              new FluxStreamSink(
                  emitter,
                  maxBufferBytes,
                  decoder,
                  scheduler,
                  ServerSentEvent.<String>builder().comment("ok").build());
          broker
              .subscribeAsync(checked, position, sink)
              .whenComplete(
                  (subscription, failure) -> {
                    if (failure == null) {
                      sink.attach(subscription);
                    } else {
                      emitter.error(refusal(failure));
                    }
                  });
        },
        FluxSink.OverflowStrategy.BUFFER);
  }

  /** The refusal of invalid topics, as the Servlet adapter words it; empty if they are valid. */
  private static Optional<StreamRefusedException> check(Set<String> topics) {
    try {
      Topics.checkAll(topics);
      return Optional.empty();
    } catch (InvalidTopicException e) {
      String code = topics.size() > Topics.MAX_TOPICS ? "too_many_topics" : "topic_invalid";
      return Optional.of(new StreamRefusedException(400, code, e.getMessage()));
    }
  }

  private static Throwable refusal(Throwable failure) {
    Throwable cause =
        failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null
            ? failure.getCause()
            : failure;
    if (cause instanceof IllegalStateException) {
      return new StreamRefusedException(
          503, "shutting_down", "the server is shutting down; retry shortly");
    }
    if (cause instanceof StoreUnavailableException) {
      return new StreamRefusedException(
          503, "store_unavailable", "the event store is unavailable; retry shortly");
    }
    return cause;
  }
}
