package dev.herald.hub.internal.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PrincipalTest {
  @ParameterizedTest
  @CsvSource({
    "news, news, true",
    "news, news/eu, false",
    "news*, news/eu, true",
    "news/*, news, false",
    "news/*, news/eu/fr, true",
    "members/*, members/alice, true",
    "*, anything/at/all, true",
    "a, b, false"
  })
  void selectorsMatchExactTopicsPrefixesAndEverything(String selector, String topic, boolean ok) {
    Principal p =
        new Principal(
            Optional.empty(), List.of(selector), List.of(selector), Optional.empty(), false);
    assertThat(p.mayPublish(topic)).isEqualTo(ok);
    assertThat(p.maySubscribe(topic)).isEqualTo(ok);
  }

  @ParameterizedTest
  @CsvSource({"members/alice, true", "members/bob, false", "members/alice/x, false"})
  void subjectMaySubscribeToItsOwnMemberTopicButNotPublish(String topic, boolean ok) {
    Principal alice =
        new Principal(Optional.of("alice"), List.of(), List.of(), Optional.empty(), false);
    assertThat(alice.maySubscribe(topic)).isEqualTo(ok);
    assertThat(alice.mayPublish(topic)).isFalse();
  }
}
