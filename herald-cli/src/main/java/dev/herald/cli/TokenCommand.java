package dev.herald.cli;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code herald token}: mints an HS256 token for a hub started with the same {@code --jwt-secret},
 * with the claim {@code {"herald": {"publish": [...], "subscribe": [...]}}}, and prints it.
 */
@Command(
    name = "token",
    mixinStandardHelpOptions = true,
    description = "Mint an HS256 token for a hub run with the same --jwt-secret, and print it.")
final class TokenCommand implements Callable<Integer> {
  /** The shortest secret the hub accepts: 256 bits. */
  static final int MIN_SECRET_BYTES = 32;

  @CommandLine.Spec private CommandLine.Model.CommandSpec spec;

  @Option(names = "--secret", required = true, description = "The hub's --jwt-secret.")
  String secret;

  @Option(names = "--sub", description = "The subject; it may subscribe to members/<sub>.")
  String sub;

  @Option(
      names = "--publish",
      showDefaultValue = CommandLine.Help.Visibility.NEVER,
      description = "Topic selector it may publish to (repeatable).")
  List<String> publish = new ArrayList<>();

  @Option(
      names = "--subscribe",
      showDefaultValue = CommandLine.Help.Visibility.NEVER,
      description = "Topic selector it may subscribe to (repeatable).")
  List<String> subscribe = new ArrayList<>();

  @Option(
      names = "--ttl",
      defaultValue = "1h",
      converter = Units.DurationConverter.class,
      description = "How long the token is valid.")
  Duration ttl;

  Clock clock = Clock.systemUTC();

  @Override
  public Integer call() {
    byte[] key = secret.getBytes(StandardCharsets.UTF_8);
    if (key.length < MIN_SECRET_BYTES) {
      throw new CommandLine.ParameterException(
          spec.commandLine(),
          "--secret is "
              + key.length
              + " bytes; HS256 needs at least "
              + MIN_SECRET_BYTES
              + " (256 bits), as the hub does");
    }
    if (ttl.isZero() || ttl.isNegative()) {
      throw new CommandLine.ParameterException(spec.commandLine(), "--ttl must be positive");
    }
    Instant now = clock.instant();
    Map<String, Object> herald = new LinkedHashMap<>();
    herald.put("publish", List.copyOf(publish));
    herald.put("subscribe", List.copyOf(subscribe));
    JWTClaimsSet.Builder claims =
        new JWTClaimsSet.Builder()
            .issueTime(Date.from(now))
            .expirationTime(Date.from(now.plus(ttl)))
            .claim("herald", herald);
    if (sub != null) {
      claims.subject(sub);
    }
    SignedJWT jwt =
        new SignedJWT(
            new JWSHeader.Builder(JWSAlgorithm.HS256).type(JOSEObjectType.JWT).build(),
            claims.build());
    try {
      jwt.sign(new MACSigner(key));
    } catch (JOSEException e) {
      spec.commandLine().getErr().println("herald token: " + e.getMessage());
      return 1;
    }
    spec.commandLine().getOut().println(jwt.serialize());
    spec.commandLine().getOut().flush();
    return 0;
  }
}
