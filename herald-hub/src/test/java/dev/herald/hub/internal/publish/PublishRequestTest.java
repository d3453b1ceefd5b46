package dev.herald.hub.internal.publish;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.hub.internal.http.Refusal;
import dev.herald.server.Publication;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PublishRequestTest {
  private static final Clock CLOCK =
      Clock.fixed(Instant.parse("2026-11-21T10:15:30Z"), ZoneOffset.UTC);

  private static Publication parse(String member, String json) {
    return PublishRequest.parse(
        Optional.ofNullable(member), ByteBuffer.wrap(json.getBytes(StandardCharsets.UTF_8)), CLOCK);
  }

  private static String canonical(String body, boolean ndjson) {
    return PublishRequest.parseAny(
            Optional.empty(),
            ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)),
            ndjson,
            CLOCK,
            10)
        .canonicalJson();
  }

  @Test
  void canonicalJsonIgnoresPropertyOrderAndWhitespaceAtEveryDepth() {
    String canonical =
        canonical(
            "{\"topic\": \"t\", \"data\": {\"b\": [{\"d\": 1, \"c\": 2}], \"a\": \"é\"}}", false);
    assertThat(canonical)
        .isEqualTo("{\"data\":{\"a\":\"\\u00E9\",\"b\":[{\"c\":2,\"d\":1}]},\"topic\":\"t\"}");
    assertThat(
            canonical(
                "\t{ \"data\" :{\"a\":\"\\u00e9\" ,\"b\":[ {\"c\":2,\"d\":1}]},\"topic\":\"t\"}\n",
                false))
        .isEqualTo(canonical);
    assertThat(canonical("[{\"topic\": \"t\", \"data\": 1}]", false))
        .isEqualTo(canonical("\n{\"data\":1,\"topic\":\"t\"}\n", true))
        .isEqualTo("[{\"data\":1,\"topic\":\"t\"}]");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "{\"topic\": \"t\", \"data\": [1, 2]} | {\"topic\": \"t\", \"data\": [2, 1]}",
        "{\"topic\": \"t\", \"data\": 1} | {\"topic\": \"t\", \"data\": \"1\"}",
        "{\"topic\": \"t\", \"data\": 1} | {\"topic\": \"t\", \"data\": 1.0}",
        "{\"topic\": \"t\", \"data\": \"a b\"} | {\"topic\": \"t\", \"data\": \"ab\"}",
        "{\"topic\": \"t\", \"data\": 1} | {\"topic\": \"t\", \"data\": 1, \"x\": \"\\ud800\"}",
        "{\"topic\": \"t\", \"data\": 1, \"x\": \"\\ud800\"} | {\"topic\": \"t\", \"data\": 1, \"x\": \"\\ud801\"}",
      })
  void canonicalJsonDiffersForEveryDifferentValue(String one, String other) {
    assertThat(canonical(one, false)).isNotEqualTo(canonical(other, false));
  }

  /**
   * Malformed UTF-8 is refused, not published with U+FFFD in its place: a truncated sequence, a
   * byte that starts none, an encoded surrogate, an overlong form, and each next to a U+FFFD sent
   * as such (the decoder's fast path cannot tell those apart).
   */
  @ParameterizedTest
  @CsvSource({
    "7b22746f706963223a2274222c2264617461223a22c328227d",
    "7b22746f706963223a2274222c2264617461223a22ff227d",
    "7b22746f706963223a2274222c2264617461223a22eda080227d",
    "7b22746f706963223a2274222c2264617461223a22c0af227d",
    "7b22746f706963223a2274222c2264617461223a22efbfbdc328227d",
    "7b22746f706963223a2274222c2264617461223a22c328efbfbd227d",
  })
  void aBodyThatIsNotUtf8IsRefused(String hex) {
    ByteBuffer body = ByteBuffer.wrap(java.util.HexFormat.of().parseHex(hex));
    assertThatThrownBy(() -> PublishRequest.parse(Optional.empty(), body, CLOCK))
        .isInstanceOfSatisfying(
            Refusal.class,
            r -> {
              assertThat(r.code()).isEqualTo("invalid_json");
              assertThat(r.getMessage()).isEqualTo("the body is not valid UTF-8");
            });
  }

  @Test
  void aReplacementCharacterSentAsSuchIsPublishedAsIs() {
    assertThat(parse(null, "{\"topic\": \"t\", \"data\": \"a\uFFFDb\u00e9\"}").event().data())
        .isEqualTo("a\uFFFDb\u00e9");
    ByteBuffer direct = ByteBuffer.allocateDirect(64);
    direct.put("{\"topic\": \"t\", \"data\": \"\uFFFD\"}".getBytes(StandardCharsets.UTF_8)).flip();
    assertThat(PublishRequest.parse(Optional.empty(), direct, CLOCK).event().data())
        .isEqualTo("\uFFFD");
  }

  @Test
  void memberFormStampsMillisecondsEvenWhenTheyAreZero() {
    Publication p = parse("7", "{\"event\": {\"type\": \"T\", \"body\": null}}");
    assertThat(p.topics()).containsExactly("members/7");
    assertThat(p.event().type()).isEqualTo("T");
    assertThat(p.event().data())
        .isEqualTo("{\"body\":null,\"timestamp\":\"2026-11-21T10:15:30.000Z\"}");
  }

  @Test
  void topicFormDefaultsToMessageAndCollapsesDuplicateTopicsInOrder() {
    Publication p = parse(null, "{\"topics\": [\"b\", \"a\", \"b\"], \"data\": [1]}");
    assertThat(p.topics()).containsExactly("b", "a");
    assertThat(p.event().type()).isEqualTo("message");
    assertThat(p.event().data()).isEqualTo("[1]");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "|{\"topic\": \"t\", \"data\": 1} trailing|invalid_json",
        "|{\"topic\": \"t\", \"topic\": \"u\", \"data\": 1}|invalid_json",
        "|'   '|invalid_json",
        "|{\"topic\": 5, \"data\": 1}|topic_invalid",
        "|{\"topics\": \"t\", \"data\": 1}|topic_invalid",
        "|{\"topics\": [], \"data\": 1}|topic_missing",
        "|{\"topic\": \"\", \"data\": 1}|topic_invalid",
        "|{\"topic\": \"t\", \"type\": \"\", \"data\": 1}|type_invalid",
        "|{\"topic\": \"t\", \"type\": 3, \"data\": 1}|type_invalid",
        "m|{\"event\": 1}|event_missing",
        "m|{\"event\": {\"type\": \"T\", \"body\": 1}, \"topics\": [\"x\"]}|ambiguous_target",
        "''|{\"event\": {\"type\": \"T\", \"body\": 1}}|topic_invalid",
      })
  void eachMistakeHasItsOwnCode(String member, String json, String code) {
    assertThatThrownBy(() -> parse(member, json))
        .isInstanceOfSatisfying(
            Refusal.class,
            r -> {
              assertThat(r.code()).isEqualTo(code);
              assertThat(r.status().code()).isEqualTo(400);
              assertThat(r.getMessage()).isNotBlank();
            });
  }

  @Test
  void typeOf128CharactersIsAcceptedAnd129Refused() {
    String ok = "{\"topic\": \"t\", \"type\": \"" + "\u00e9".repeat(128) + "\", \"data\": 1}";
    assertThat(parse(null, ok).event().type()).hasSize(128);
    String tooLong = "{\"topic\": \"t\", \"type\": \"" + "a".repeat(129) + "\", \"data\": 1}";
    assertThatThrownBy(() -> parse(null, tooLong)).isInstanceOf(Refusal.class);
  }
}
