package dev.herald.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class BackoffTest {
  private static final Duration BASE = Duration.ofSeconds(1);
  private static final Duration CAP = Duration.ofSeconds(30);
  private static final double LOWEST = 0.0;
  private static final double HIGHEST = 0.999999;

  @Test
  void firstReconnectionWaitsExactlyTheReconnectionTime() {
    assertThat(Backoff.delay(BASE, CAP, 0, LOWEST)).isEqualTo(BASE);
    assertThat(Backoff.delay(BASE, CAP, 0, HIGHEST)).isEqualTo(BASE);
  }

  @Test
  void doublesWithJitterInTheUpperHalf() {
    assertThat(Backoff.delay(BASE, CAP, 3, LOWEST)).isEqualTo(Duration.ofSeconds(4));
    assertThat(Backoff.delay(BASE, CAP, 3, HIGHEST)).isEqualTo(Duration.ofMillis(7999));
  }

  @ParameterizedTest
  @ValueSource(ints = {5, 6, 30, 62, 63, 1000, Integer.MAX_VALUE})
  void neverExceedsTheCap(int failures) {
    assertThat(Backoff.delay(BASE, CAP, failures, HIGHEST)).isLessThanOrEqualTo(CAP);
    assertThat(Backoff.delay(BASE, CAP, failures, LOWEST)).isEqualTo(Duration.ofSeconds(15));
  }

  @Test
  void aReconnectionTimeAboveTheCapIsHonoured() {
    Duration retry = Duration.ofMinutes(2);
    assertThat(Backoff.delay(retry, CAP, 0, LOWEST)).isEqualTo(retry);
    assertThat(Backoff.delay(retry, CAP, 10, HIGHEST)).isEqualTo(retry);
  }

  @Test
  void zeroStaysZero() {
    assertThat(Backoff.delay(Duration.ZERO, CAP, 10, HIGHEST)).isZero();
  }

  @Test
  void absurdValuesAreClamped() {
    Duration huge = Duration.ofMillis(Long.MAX_VALUE);
    assertThat(Backoff.delay(huge, CAP, 3, HIGHEST)).isEqualTo(Backoff.MAX_DELAY);
    assertThat(Backoff.clamp(Duration.ofSeconds(-5))).isZero();
  }
}
