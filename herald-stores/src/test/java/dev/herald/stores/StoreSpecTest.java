package dev.herald.stores;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.herald.stores.StoreSpec.Kind;
import org.junit.jupiter.api.Test;

/** Parsing {@code --store} specs, and masking Redis passwords when they are shown. */
class StoreSpecTest {
  @Test
  void parsesEveryKindOfStore() {
    assertThat(StoreSpec.parse("memory")).isEqualTo(new StoreSpec(Kind.MEMORY, ""));
    assertThat(StoreSpec.parse(" sqlite:./data/e.db "))
        .isEqualTo(new StoreSpec(Kind.SQLITE, "./data/e.db"));
    assertThat(StoreSpec.parse("redis://127.0.0.1:6379/2"))
        .isEqualTo(new StoreSpec(Kind.REDIS, "redis://127.0.0.1:6379/2"));
    assertThat(StoreSpec.parse("rediss://redis.example:6380"))
        .isEqualTo(new StoreSpec(Kind.REDIS, "rediss://redis.example:6380"));
  }

  @Test
  void acceptsRedisClusterSeedNodes() {
    String plain = "redis-cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000";
    assertThat(StoreSpec.parse(plain)).isEqualTo(new StoreSpec(Kind.REDIS, plain));
    String tls = "rediss-cluster://:pw@redis.example:6380";
    assertThat(StoreSpec.parse(tls)).isEqualTo(new StoreSpec(Kind.REDIS, tls));
  }

  @Test
  void masksTheRedisPasswordWhenShown() {
    assertThat(StoreSpec.parse("redis://:s3cret@127.0.0.1:6379/2"))
        .hasToString("redis://:***@127.0.0.1:6379/2");
    assertThat(StoreSpec.parse("redis://ana:s3cret@127.0.0.1:6379"))
        .hasToString("redis://ana:***@127.0.0.1:6379");
    assertThat(StoreSpec.parse("redis-cluster://:s3cret@10.0.0.1:7000,10.0.0.2:7000"))
        .hasToString("redis-cluster://:***@10.0.0.1:7000,10.0.0.2:7000");
    assertThat(StoreSpec.parse("rediss-cluster://ana:s3cret@10.0.0.1:7000,10.0.0.2:7000"))
        .hasToString("rediss-cluster://ana:***@10.0.0.1:7000,10.0.0.2:7000");
    assertThat(StoreSpec.parse("redis-cluster://10.0.0.1:7000"))
        .hasToString("redis-cluster://10.0.0.1:7000");
  }

  @Test
  void refusesAClusterUriWithoutSeedsOrWithADatabaseAndHidesThePassword() {
    for (String bad :
        new String[] {
          "redis-cluster://",
          "redis-cluster://:s3cret@10.0.0.1:7000,",
          "redis-cluster://:s3cret@h:1/2"
        }) {
      assertThatThrownBy(() -> StoreSpec.parse(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("is not a Redis URL")
          .hasMessageContaining("redis-cluster://[:password@]host:port[,host:port...]")
          .hasMessageContaining("rediss-cluster:// for TLS")
          .hasMessageNotContaining("s3cret");
    }
  }

  @Test
  void refusesAnUnknownStoreNamingTheClusterAndSentinelForms() {
    assertThatThrownBy(() -> StoreSpec.parse("postgres://db"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown store \"postgres://db\"")
        .hasMessageContaining("redis://host:port, redis-cluster://host:port[,host:port...] or")
        .hasMessageContaining("redis-sentinel://host:port[,host:port...]#<master>");
  }

  @Test
  void acceptsSentinelsAndTheirMasterInLettucesSyntax() {
    for (String sentinel :
        new String[] {
          "redis-sentinel://10.0.0.1:26379#herald",
          "redis-sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/2#herald",
          "redis-sentinel://:pw@10.0.0.1:26379/0#herald",
          "redis-sentinel://10.0.0.1:26379?sentinelMasterId=herald",
          "rediss-sentinel://ana:pw@redis.example:26380#herald"
        }) {
      assertThat(StoreSpec.parse(sentinel))
          .as(sentinel)
          .isEqualTo(new StoreSpec(Kind.REDIS, sentinel));
    }
  }

  @Test
  void masksTheMastersPasswordInASentinelSpecButNotTheMasterName() {
    assertThat(StoreSpec.parse("redis-sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26379/0#herald"))
        .hasToString("redis-sentinel://:***@10.0.0.1:26379,10.0.0.2:26379/0#herald");
    assertThat(StoreSpec.parse("redis-sentinel://ana:s3cret@10.0.0.1:26379#herald"))
        .hasToString("redis-sentinel://ana:***@10.0.0.1:26379#herald");
    assertThat(StoreSpec.parse("redis-sentinel://10.0.0.1:26379#ops@herald"))
        .hasToString("redis-sentinel://10.0.0.1:26379#ops@herald");
  }

  @Test
  void refusesASentinelSpecWithoutItsMasterNamingTheSentinelForm() {
    for (String bad :
        new String[] {
          "redis-sentinel://:s3cret@10.0.0.1:26379", "redis-sentinel://10.0.0.1:26379#"
        }) {
      assertThatThrownBy(() -> StoreSpec.parse(bad))
          .as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("is not a Redis URL")
          .hasMessageContaining(
              "redis-sentinel://[:password@]host:port[,host:port...][/db]#<master>")
          .hasMessageNotContaining("s3cret");
    }
  }
}
