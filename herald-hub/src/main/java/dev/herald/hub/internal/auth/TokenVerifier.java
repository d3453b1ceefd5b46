package dev.herald.hub.internal.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.crypto.factories.DefaultJWSVerifierFactory;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKMatcher;
import com.nimbusds.jose.jwk.JWKSelector;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.DefaultResourceRetriever;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import dev.herald.hub.internal.http.Refusal;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Verifies a JWT with nimbus-jose-jwt and turns it into a {@link Principal}, or refuses it with a
 * reason code. The accepted algorithms are pinned by the key: an HMAC secret accepts the HS
 * algorithms its length allows (RFC 7518 section 3.2: at least the hash size, so 32 bytes for
 * HS256, 48 for HS384, 64 for HS512), an RSA public key RS* and PS*, an EC key the ES algorithm of
 * its curve, a JWKS the asymmetric algorithms of its keys. So {@code alg: none}, algorithm
 * confusion (an HS token "signed" with an RSA public key as secret) and an HS algorithm the secret
 * is too short for are refused ({@code alg_not_allowed}) before any signature is checked.
 *
 * <p>The claims are checked for their JSON types before they are read: {@code exp}, {@code nbf},
 * {@code iat} must be numbers, {@code sub}, {@code iss}, {@code jti} strings, {@code aud} a string
 * or a list of strings, {@code herald} an object of selector lists; anything else is {@code
 * claims_invalid}, naming the claim.
 */
public final class TokenVerifier {
  /** The shortest HMAC secret: 256 bits, as RFC 7518 requires for HS256. */
  public static final int MIN_SECRET_BYTES = 32;

  /**
   * Each HS algorithm and the shortest secret it may use, in bytes: the size of its hash (RFC 7518
   * section 3.2), which nimbus enforces when it verifies.
   */
  private static final Map<JWSAlgorithm, Integer> HMAC_MIN_BYTES = hmacMinBytes();

  private static final Set<JWSAlgorithm> RSA_ALGS =
      Set.of(
          JWSAlgorithm.RS256,
          JWSAlgorithm.RS384,
          JWSAlgorithm.RS512,
          JWSAlgorithm.PS256,
          JWSAlgorithm.PS384,
          JWSAlgorithm.PS512);
  private static final Set<JWSAlgorithm> EC_ALGS =
      Set.of(JWSAlgorithm.ES256, JWSAlgorithm.ES384, JWSAlgorithm.ES512, JWSAlgorithm.ES256K);
  private static final int JWKS_TIMEOUT_MILLIS = 2000;

  /** The key as client messages name it. */
  private final String description;

  /** The key and what it allows, for the banner and the log. */
  private final String summary;

  private final Set<JWSAlgorithm> allowed;
  private final JWSVerifier fixed;
  private final JWKSource<SecurityContext> jwks;
  private final Duration clockSkew;

  /**
   * Why an algorithm of the key's own family is refused, e.g. HS512 with a 40-byte secret: the
   * sentence a client gets instead of the generic "this hub accepts only ...".
   */
  private final Map<JWSAlgorithm, String> tooWeak;

  private TokenVerifier(
      String description,
      Set<JWSAlgorithm> allowed,
      JWSVerifier fixed,
      JWKSource<SecurityContext> jwks,
      Duration clockSkew) {
    this(description, description, allowed, fixed, jwks, clockSkew, Map.of());
  }

  private TokenVerifier(
      String description,
      String summary,
      Set<JWSAlgorithm> allowed,
      JWSVerifier fixed,
      JWKSource<SecurityContext> jwks,
      Duration clockSkew,
      Map<JWSAlgorithm, String> tooWeak) {
    this.description = description;
    this.summary = summary;
    this.allowed = allowed;
    this.fixed = fixed;
    this.jwks = jwks;
    this.clockSkew = clockSkew;
    this.tooWeak = tooWeak;
  }

  /**
   * The HS algorithms the UTF-8 bytes of {@code secret} can verify, in order: HS256 from 32 bytes,
   * HS384 from 48, HS512 from 64; empty below 32.
   */
  public static List<String> hmacAlgorithms(String secret) {
    int length = secret.getBytes(StandardCharsets.UTF_8).length;
    List<String> names = new ArrayList<>();
    HMAC_MIN_BYTES.forEach(
        (alg, min) -> {
          if (length >= min) {
            names.add(alg.getName());
          }
        });
    return List.copyOf(names);
  }

  /**
   * What the UTF-8 bytes of {@code secret} allow, for the start-up banner and log: {@code "HS256,
   * HS384, HS512"}, or for a shorter secret e.g. {@code "HS256 only: the secret is 40 bytes; HS384
   * needs at least 48, HS512 at least 64"}.
   */
  public static String hmacSummary(String secret) {
    int length = secret.getBytes(StandardCharsets.UTF_8).length;
    List<String> allowed = hmacAlgorithms(secret);
    if (allowed.size() == HMAC_MIN_BYTES.size()) {
      return String.join(", ", allowed);
    }
    List<String> missing = new ArrayList<>();
    HMAC_MIN_BYTES.forEach(
        (alg, min) -> {
          if (length < min) {
            missing.add(alg.getName() + " needs at least " + min);
          }
        });
    return (allowed.isEmpty() ? "no HS algorithm" : String.join(", ", allowed) + " only")
        + ": the secret is "
        + length
        + " bytes; "
        + String.join(", ", missing);
  }

  /**
   * The HS algorithms the UTF-8 bytes of {@code secret} are long enough for (see {@link
   * #hmacAlgorithms}); a token with another HS algorithm is refused {@code alg_not_allowed}, saying
   * how long a secret it needs, never {@code bad_signature}.
   *
   * @throws IllegalArgumentException if the secret is shorter than 256 bits
   */
  public static TokenVerifier secret(String secret, Duration clockSkew) {
    byte[] bytes = secret.getBytes(StandardCharsets.UTF_8);
    if (bytes.length < MIN_SECRET_BYTES) {
      throw new IllegalArgumentException(
          "the JWT secret is "
              + bytes.length
              + " bytes; HS256 needs at least "
              + MIN_SECRET_BYTES
              + " (256 bits): use a long random string, e.g. `openssl rand -base64 48`");
    }
    List<String> names = hmacAlgorithms(secret);
    Set<JWSAlgorithm> allowed = new HashSet<>();
    Map<JWSAlgorithm, String> tooWeak = new HashMap<>();
    HMAC_MIN_BYTES.forEach(
        (alg, min) -> {
          if (names.contains(alg.getName())) {
            allowed.add(alg);
          } else {
            tooWeak.put(
                alg,
                alg.getName()
                    + " needs a secret of at least "
                    + min
                    + " bytes; this hub's secret allows "
                    + String.join(", ", names));
          }
        });
    try {
      return new TokenVerifier(
          "an HMAC secret",
          "an HMAC secret, " + hmacSummary(secret),
          Set.copyOf(allowed),
          new MACVerifier(bytes),
          null,
          clockSkew,
          Map.copyOf(tooWeak));
    } catch (JOSEException e) {
      throw new IllegalArgumentException("unusable JWT secret: " + e.getMessage(), e);
    }
  }

  /**
   * RS*, PS* (RSA key) or the ES algorithm of the key's curve, with the public key in the PEM file
   * ({@code -----BEGIN PUBLIC KEY-----}, X.509 SubjectPublicKeyInfo).
   *
   * @throws IllegalArgumentException if the file cannot be read or holds no RSA or EC public key
   */
  public static TokenVerifier publicKey(Path pem, Duration clockSkew) {
    PublicKey key = readPem(pem);
    try {
      if (key instanceof RSAPublicKey rsa) {
        return new TokenVerifier(
            "the RSA public key " + pem, RSA_ALGS, new RSASSAVerifier(rsa), null, clockSkew);
      }
      ECPublicKey ec = (ECPublicKey) key;
      Curve curve = Curve.forECParameterSpec(ec.getParams());
      if (curve == null) {
        throw new IllegalArgumentException(pem + " holds an EC key on a curve JWS does not use");
      }
      Set<JWSAlgorithm> forCurve = new HashSet<>();
      for (JWSAlgorithm alg : EC_ALGS) {
        if (Curve.forJWSAlgorithm(alg).contains(curve)) {
          forCurve.add(alg);
        }
      }
      return new TokenVerifier(
          "the EC public key " + pem + " (" + curve + ")",
          Set.copyOf(forCurve),
          new ECDSAVerifier(ec),
          null,
          clockSkew);
    } catch (JOSEException e) {
      throw new IllegalArgumentException(
          "unusable public key in " + pem + ": " + e.getMessage(), e);
    }
  }

  private static PublicKey readPem(Path pem) {
    String text;
    try {
      text = Files.readString(pem, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read the public key file " + pem + ": " + e, e);
    }
    int begin = text.indexOf("-----BEGIN PUBLIC KEY-----");
    int end = text.indexOf("-----END PUBLIC KEY-----");
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException(
          pem
              + " is not a PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)");
    }
    String base64 = text.substring(begin + 26, end).replaceAll("\\s", "");
    byte[] der;
    try {
      der = Base64.getDecoder().decode(base64);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(pem + " is not valid base64 PEM", e);
    }
    for (String type : List.of("RSA", "EC")) {
      try {
        return KeyFactory.getInstance(type).generatePublic(new X509EncodedKeySpec(der));
      } catch (GeneralSecurityException e) {
        // Not this key type: try the next.
      }
    }
    throw new IllegalArgumentException(pem + " holds neither an RSA nor an EC public key");
  }

  /**
   * The keys of the JWKS at {@code url}, fetched at first use (not at start), cached for 5 minutes
   * and refreshed ahead of expiry; a fetch times out after 2 s. Only asymmetric keys are used.
   *
   * @throws IllegalArgumentException if {@code url} is not an http(s) URL
   */
  public static TokenVerifier jwks(URI url, Duration clockSkew) {
    if (!"https".equalsIgnoreCase(url.getScheme()) && !"http".equalsIgnoreCase(url.getScheme())) {
      throw new IllegalArgumentException("the JWKS URL must be http(s): " + url);
    }
    try {
      JWKSource<SecurityContext> source =
          JWKSourceBuilder.<SecurityContext>create(
                  url.toURL(),
                  new DefaultResourceRetriever(
                      JWKS_TIMEOUT_MILLIS, JWKS_TIMEOUT_MILLIS, 512 * 1024))
              .cache(Duration.ofMinutes(5).toMillis(), JWKS_TIMEOUT_MILLIS)
              .refreshAheadCache(false)
              .retrying(false)
              .rateLimited(true)
              .build();
      Set<JWSAlgorithm> algs = new HashSet<>(RSA_ALGS);
      algs.addAll(EC_ALGS);
      return new TokenVerifier("the JWKS at " + url, Set.copyOf(algs), null, source, clockSkew);
    } catch (MalformedURLException e) {
      throw new IllegalArgumentException("bad JWKS URL " + url + ": " + e.getMessage(), e);
    }
  }

  /** Whether {@link #verify} may block on the network (a JWKS fetch). */
  public boolean mayBlock() {
    return jwks != null;
  }

  /** The allowed clock skew for {@code exp} and {@code nbf}. */
  public Duration clockSkew() {
    return clockSkew;
  }

  /** What the keys are and, for a secret, which HS algorithms it allows: for the log. */
  public String description() {
    return summary;
  }

  private static Map<JWSAlgorithm, Integer> hmacMinBytes() {
    Map<JWSAlgorithm, Integer> sizes = new LinkedHashMap<>();
    sizes.put(JWSAlgorithm.HS256, 32);
    sizes.put(JWSAlgorithm.HS384, 48);
    sizes.put(JWSAlgorithm.HS512, 64);
    return Collections.unmodifiableMap(sizes);
  }

  /**
   * Verifies {@code token} at {@code now}.
   *
   * @throws Refusal 401 with the reason code, or 503 {@code jwks_unavailable}
   */
  public Principal verify(String token, Instant now) {
    JWT jwt;
    try {
      jwt = JWTParser.parse(token);
    } catch (ParseException e) {
      // Not the parser's message: it may quote parts of the token.
      throw invalid(
          "token_malformed",
          "the token is not a JWT (header.payload.signature in base64url, with a JSON header)");
    }
    if (jwt instanceof PlainJWT) {
      throw invalid("alg_not_allowed", "unsigned tokens (alg: none) are never accepted");
    }
    if (!(jwt instanceof SignedJWT signed)) {
      throw invalid("alg_not_allowed", "encrypted tokens are not accepted; send a signed JWT");
    }
    JWSHeader header = signed.getHeader();
    if (tooWeak.containsKey(header.getAlgorithm())) {
      throw invalid("alg_not_allowed", tooWeak.get(header.getAlgorithm()));
    }
    if (!allowed.contains(header.getAlgorithm())) {
      throw invalid(
          "alg_not_allowed",
          "the token is signed with "
              + header.getAlgorithm()
              + "; with "
              + description
              + " this hub accepts only "
              + new TreeSet<>(allowed.stream().map(JWSAlgorithm::getName).toList()));
    }
    if (!signatureValid(signed, header)) {
      throw invalid("bad_signature", "the token's signature does not verify with " + description);
    }
    Map<String, Object> json = signed.getPayload().toJSONObject();
    if (json == null) {
      throw invalid("token_malformed", "the token's claims are not a JSON object");
    }
    checkClaimTypes(json);
    JWTClaimsSet claims;
    try {
      claims = JWTClaimsSet.parse(json);
    } catch (ParseException e) {
      // The types were checked above; nimbus's message is not ours to show.
      throw invalid("claims_invalid", "the token's registered claims cannot be read");
    }
    Optional<Instant> exp = Optional.ofNullable(claims.getExpirationTime()).map(Date::toInstant);
    if (exp.isPresent() && now.isAfter(exp.get().plus(clockSkew))) {
      throw invalid("token_expired", "the token expired at " + exp.get() + "; get a fresh one");
    }
    Date nbf = claims.getNotBeforeTime();
    if (nbf != null && now.plus(clockSkew).isBefore(nbf.toInstant())) {
      throw invalid(
          "token_not_yet_valid", "the token is not valid before " + nbf.toInstant() + " (nbf)");
    }
    return principal(claims, exp);
  }

  private boolean signatureValid(SignedJWT signed, JWSHeader header) {
    List<JWSVerifier> verifiers = new ArrayList<>();
    if (fixed != null) {
      verifiers.add(fixed);
    } else {
      List<JWK> keys;
      try {
        keys = jwks.get(new JWKSelector(JWKMatcher.forJWSHeader(header)), null);
      } catch (KeySourceException e) {
        throw Refusal.retryLater(
            HttpResponseStatus.SERVICE_UNAVAILABLE,
            "jwks_unavailable",
            "the hub cannot fetch the signing keys from its JWKS URL; retry later",
            5);
      }
      DefaultJWSVerifierFactory factory = new DefaultJWSVerifierFactory();
      for (JWK key : keys) {
        if (key instanceof OctetSequenceKey) {
          continue; // Never an HMAC secret from a JWKS: that would allow algorithm confusion.
        }
        try {
          verifiers.add(
              factory.createJWSVerifier(
                  header,
                  key instanceof ECKey ec ? ec.toECPublicKey() : key.toRSAKey().toRSAPublicKey()));
        } catch (JOSEException e) {
          // A key this algorithm cannot use: skip it.
        }
      }
      if (verifiers.isEmpty()) {
        throw invalid(
            "bad_signature",
            "no key in "
                + description
                + " matches the token's kid and alg "
                + header.getAlgorithm());
      }
    }
    for (JWSVerifier verifier : verifiers) {
      try {
        if (signed.verify(verifier)) {
          return true;
        }
      } catch (JOSEException | IllegalStateException e) {
        // Unusable for this token (a JWKS key of another algorithm): not a valid signature.
      }
    }
    return false;
  }

  /**
   * Refuses a registered claim of the wrong JSON type by name: nimbus would either fail without
   * saying which claim ({@code "exp": "never"}) or quietly turn a number into a string ({@code
   * "sub": 5}).
   */
  private static void checkClaimTypes(Map<String, Object> json) {
    for (String name : List.of("exp", "nbf", "iat")) {
      if (json.containsKey(name) && !(json.get(name) instanceof Number)) {
        throw invalid(
            "claims_invalid",
            "the \""
                + name
                + "\" claim must be a number (seconds since the epoch), got "
                + kind(json.get(name)));
      }
    }
    for (String name : List.of("sub", "iss", "jti")) {
      if (json.containsKey(name) && !(json.get(name) instanceof String)) {
        throw invalid(
            "claims_invalid",
            "the \"" + name + "\" claim must be a string, got " + kind(json.get(name)));
      }
    }
    if (json.containsKey("aud")) {
      Object aud = json.get("aud");
      boolean strings =
          aud instanceof String
              || (aud instanceof List<?> list && list.stream().allMatch(String.class::isInstance));
      if (!strings) {
        throw invalid(
            "claims_invalid",
            "the \"aud\" claim must be a string or a list of strings, got " + kind(aud));
      }
    }
    // "herald" is checked where it is read, selector by selector (principal).
  }

  /** The JSON type of a parsed claim value, for messages (never the value: it may be secret). */
  private static String kind(Object value) {
    if (value == null) {
      return "null";
    }
    if (value instanceof String) {
      return "a string";
    }
    if (value instanceof Number) {
      return "a number";
    }
    if (value instanceof Boolean) {
      return "a boolean";
    }
    if (value instanceof List) {
      return "a list";
    }
    return value instanceof Map ? "an object" : "a " + value.getClass().getSimpleName();
  }

  private static Principal principal(JWTClaimsSet claims, Optional<Instant> exp) {
    Object herald = claims.getClaim("herald");
    List<String> publish = List.of();
    List<String> subscribe = List.of();
    if (herald != null) {
      if (!(herald instanceof Map<?, ?> map)) {
        throw invalid(
            "claims_invalid", "the \"herald\" claim must be a JSON object, got " + kind(herald));
      }
      publish = selectors(map.get("publish"), "publish");
      subscribe = selectors(map.get("subscribe"), "subscribe");
    }
    Object sub = claims.getClaim("sub");
    if (sub != null && !(sub instanceof String)) {
      throw invalid("claims_invalid", "the \"sub\" claim must be a string");
    }
    return new Principal(
        Optional.ofNullable((String) sub).filter(s -> !s.isEmpty()),
        publish,
        subscribe,
        exp,
        false);
  }

  private static List<String> selectors(Object value, String name) {
    if (value == null) {
      return List.of();
    }
    if (!(value instanceof List<?> list)) {
      throw invalid("claims_invalid", "herald." + name + " must be a list of topic selectors");
    }
    List<String> out = new ArrayList<>();
    for (Object item : list) {
      if (!(item instanceof String s) || s.isEmpty()) {
        throw invalid("claims_invalid", "herald." + name + " must hold only non-empty strings");
      }
      out.add(s);
    }
    return out;
  }

  private static Refusal invalid(String code, String message) {
    return Refusal.unauthorized(code, message, true);
  }
}
