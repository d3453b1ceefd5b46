package dev.herald.server.spi;

import dev.herald.server.Topics;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Names a device cursor: a device and the topic set its stream covers. Two streams of one device
 * with the same topics share one cursor, however the topics were ordered.
 *
 * @param deviceId the device: 1-128 visible ASCII characters
 * @param topics the topics of the stream, sorted
 */
public record CursorKey(String deviceId, SortedSet<String> topics) {
  /** The longest device id. */
  public static final int MAX_DEVICE_ID_LENGTH = 128;

  /** Checks the device id and the topics; copies the topics sorted. */
  public CursorKey {
    if (!isValidDeviceId(deviceId)) {
      throw new IllegalArgumentException("a device id is 1-128 visible ASCII characters");
    }
    topics =
        java.util.Collections.unmodifiableSortedSet(
            new TreeSet<>(Topics.checkAll(Objects.requireNonNull(topics, "topics"))));
  }

  /** The key of {@code deviceId} streaming {@code topics}. */
  public static CursorKey of(String deviceId, Set<String> topics) {
    return new CursorKey(deviceId, new TreeSet<>(topics));
  }

  /** The topics as one string, newline-separated in order (topics hold no control characters). */
  public String topicsText() {
    return String.join("\n", topics);
  }

  /** Whether {@code deviceId} is 1-128 visible ASCII characters (U+0021-U+007E). */
  public static boolean isValidDeviceId(String deviceId) {
    if (deviceId == null || deviceId.isEmpty() || deviceId.length() > MAX_DEVICE_ID_LENGTH) {
      return false;
    }
    for (int i = 0; i < deviceId.length(); i++) {
      char c = deviceId.charAt(i);
      if (c < 0x21 || c > 0x7E) {
        return false;
      }
    }
    return true;
  }
}
