package dev.herald.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** IDEs complete {@code herald.*} from the metadata the configuration processor writes. */
class ConfigurationMetadataTest {
  @Test
  void everyHeraldPropertyIsDescribedWithItsTypeAndDefault() throws Exception {
    JsonNode metadata;
    try (InputStream in =
        getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
      assertThat(in).as("metadata on the classpath").isNotNull();
      metadata = new ObjectMapper().readTree(in);
    }
    Map<String, JsonNode> properties = new HashMap<>();
    metadata.get("properties").forEach(p -> properties.put(p.get("name").asText(), p));

    assertThat(properties)
        .containsOnlyKeys(
            "herald.store",
            "herald.fsync",
            "herald.redis-key-prefix",
            "herald.redis-min-replicas",
            "herald.redis-min-replicas-timeout",
            "herald.heartbeat",
            "herald.max-buffer-bytes",
            "herald.retention.count",
            "herald.retention.age",
            "herald.mvc.path",
            "herald.webflux.path");
    assertThat(properties.values())
        .allSatisfy(p -> assertThat(p.path("description").asText()).hasSizeGreaterThan(20));
    assertThat(properties.get("herald.store").get("defaultValue").asText()).isEqualTo("memory");
    assertThat(properties.get("herald.heartbeat").get("type").asText())
        .isEqualTo("java.time.Duration");
    assertThat(properties.get("herald.heartbeat").get("defaultValue").asText()).isEqualTo("15s");
    assertThat(properties.get("herald.retention.age").get("defaultValue").asText())
        .isEqualTo("24h");
    assertThat(properties.get("herald.retention.count").get("defaultValue").asInt())
        .isEqualTo(1000);
    assertThat(properties.get("herald.max-buffer-bytes").get("defaultValue").asText())
        .isEqualTo("1MB");
    assertThat(properties.get("herald.redis-min-replicas").get("defaultValue").asInt()).isZero();
    assertThat(properties.get("herald.redis-min-replicas-timeout").get("defaultValue").asText())
        .isEqualTo("1s");
  }
}
