package dev.herald.server;

import java.time.Instant;
import java.util.Objects;

/**
 * A device's open stream on this node, as {@link Broker#devices} reports it.
 *
 * @param deviceId the device
 * @param since when the stream opened
 */
public record DeviceStream(String deviceId, Instant since) {
  /** Checks the parts. */
  public DeviceStream {
    Objects.requireNonNull(deviceId, "deviceId");
    Objects.requireNonNull(since, "since");
  }
}
