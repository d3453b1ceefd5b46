package dev.herald.hub.internal.stats;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class RatesTest {
  private static final long S = TimeUnit.SECONDS.toNanos(1);

  @Test
  void measuresAgainstTheNewestSampleAtLeastOneSecondOld() {
    Rates rates = new Rates(0, 0, 0);
    assertThat(rates.sample(2 * S, 20, 40)).isEqualTo(new Rates.Rate(10, 20, 2));
    // Asked again 0.5 s later: the sample of 2 s is too recent, the one at 0 is the newest old one.
    assertThat(rates.sample(2 * S + S / 2, 25, 50)).isEqualTo(new Rates.Rate(10, 20, 2.5));
    // At 3.5 s the samples of 2 and 2.5 s qualify: the newer one is used.
    assertThat(rates.sample(3 * S + S / 2, 35, 50)).isEqualTo(new Rates.Rate(10, 0, 1));
  }

  @Test
  void asksSoonAfterTheStartMeasureSinceTheStart() {
    assertThat(new Rates(0, 5, 5).sample(S / 2, 10, 5)).isEqualTo(new Rates.Rate(10, 0, 0.5));
    assertThat(new Rates(7, 5, 5).sample(7, 5, 5)).isEqualTo(new Rates.Rate(0, 0, 0));
  }

  @Test
  void keepsAtMostTenSecondsAndABoundedNumberOfSamples() {
    Rates rates = new Rates(0, 0, 0);
    for (int i = 1; i <= 10_000; i++) {
      rates.sample(i * (S / 1000), i, i); // asked 1000 times a second for 10 s
    }
    assertThat(rates.size()).isLessThanOrEqualTo(Rates.MAX_SAMPLES);
    // An hour later, the old samples are gone but the last one still measures the quiet hour.
    Rates.Rate quiet = rates.sample(3600 * S, 10_000, 10_000);
    assertThat(quiet.published()).isZero();
    assertThat(rates.size()).isEqualTo(1);
  }
}
