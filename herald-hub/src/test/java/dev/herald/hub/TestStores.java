package dev.herald.hub;

import dev.herald.server.Retention;
import dev.herald.server.spi.EventLog;
import dev.herald.stores.StoreSpec;

/** Hubs on a store named by a spec string, as {@code herald serve --store} opens it. */
public final class TestStores {
  private TestStores() {}

  /** {@code builder} on the store {@code spec}, Redis keys under the default prefix. */
  public static Hub.Builder on(Hub.Builder builder, String spec) {
    return on(builder, spec, "herald:");
  }

  /** {@code builder} on the store {@code spec}, Redis keys under {@code redisKeyPrefix}. */
  public static Hub.Builder on(Hub.Builder builder, String spec, String redisKeyPrefix) {
    StoreSpec store = StoreSpec.parse(spec);
    EventLog log = store.open(Retention.DEFAULT, false, redisKeyPrefix);
    builder.log(log);
    store.presence(log, redisKeyPrefix).ifPresent(builder::presence);
    return builder;
  }
}
