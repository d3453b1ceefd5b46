package dev.herald.client;

import static java.lang.System.Logger.Level.WARNING;

import dev.herald.core.Event;
import java.util.concurrent.Flow;

/**
 * Connects a {@link Flow.Subscriber} to the source's {@link ReconnectLoop}: its requests become the
 * reader's demand, so the source reads from the network only as fast as the subscriber asks.
 */
final class SubscriberSink implements Dispatcher.Sink, Flow.Subscription {
  private static final System.Logger LOG = System.getLogger(EventSource.class.getName());

  private final Flow.Subscriber<? super Event> subscriber;
  private final ReconnectLoop loop;
  private volatile boolean done;

  SubscriberSink(Flow.Subscriber<? super Event> subscriber, ReconnectLoop loop) {
    this.subscriber = subscriber;
    this.loop = loop;
  }

  @Override
  public void onStart() {
    subscriber.onSubscribe(this);
  }

  @Override
  public void request(long n) {
    if (done) {
      return;
    }
    if (n <= 0) {
      // Reactive Streams rule 3.9.
      loop.fail(new IllegalArgumentException("request(" + n + "): demand must be positive"));
      return;
    }
    loop.request(n);
  }

  @Override
  public void cancel() {
    done = true;
    loop.close();
  }

  @Override
  public void onEvent(Event event) {
    if (done) {
      return;
    }
    try {
      subscriber.onNext(event);
    } catch (RuntimeException e) {
      // Reactive Streams rule 2.13: a throwing subscriber is cancelled.
      LOG.log(WARNING, "Flow.Subscriber.onNext threw; cancelling its subscription", e);
      cancel();
    }
  }

  @Override
  public void onTerminated(Throwable error) {
    if (done) {
      return;
    }
    done = true;
    if (error == null) {
      subscriber.onComplete();
    } else {
      subscriber.onError(error);
    }
  }
}
