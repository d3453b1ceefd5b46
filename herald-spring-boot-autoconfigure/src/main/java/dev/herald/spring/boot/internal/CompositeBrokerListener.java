package dev.herald.spring.boot.internal;

import dev.herald.server.BrokerListener;
import dev.herald.server.CloseReason;
import dev.herald.server.StoredEvent;
import java.util.List;

/** Every {@link BrokerListener} bean of the application, as the one listener a broker takes. */
public final class CompositeBrokerListener implements BrokerListener {
  private final BrokerListener[] listeners;

  /** Calls each of {@code listeners}, in order. */
  public CompositeBrokerListener(List<BrokerListener> listeners) {
    this.listeners = listeners.toArray(new BrokerListener[0]);
  }

  @Override
  public void published(StoredEvent event, int reached) {
    for (BrokerListener listener : listeners) {
      listener.published(event, reached);
    }
  }

  @Override
  public void delivered(int count) {
    for (BrokerListener listener : listeners) {
      listener.delivered(count);
    }
  }

  @Override
  public void replayed(int count) {
    for (BrokerListener listener : listeners) {
      listener.replayed(count);
    }
  }

  @Override
  public void subscriptionOpened() {
    for (BrokerListener listener : listeners) {
      listener.subscriptionOpened();
    }
  }

  @Override
  public void subscriptionClosed(CloseReason reason) {
    for (BrokerListener listener : listeners) {
      listener.subscriptionClosed(reason);
    }
  }
}
