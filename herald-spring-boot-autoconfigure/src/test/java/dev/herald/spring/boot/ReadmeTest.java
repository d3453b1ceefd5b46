package dev.herald.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The README's Spring Boot examples are the test applications' controllers, which {@code
 * EventStreamContract.readmeExampleStreamsWhatItsPublisherPublishes} runs: the README quotes the
 * source between {@code // README:begin} and {@code // README:end} exactly.
 */
class ReadmeTest {
  private static final Path TESTS = Path.of("src/test/java/dev/herald/spring/boot");

  @ParameterizedTest
  @ValueSource(strings = {"mvc/OrderEvents.java", "flux/OrderEventsFlux.java"})
  void readmeQuotesTheTestedExample(String source) throws Exception {
    String code = Files.readString(TESTS.resolve(source));
    int begin = code.indexOf("// README:begin\n");
    int end = code.indexOf("// README:end");
    assertThat(begin).as("begin marker").isPositive();
    assertThat(end).as("end marker").isGreaterThan(begin);
    String quoted = code.substring(begin + "// README:begin\n".length(), end);

    String readme = Files.readString(Path.of("../README.md"));

    assertThat(readme).contains("```java\n" + quoted + "```");
  }
}
