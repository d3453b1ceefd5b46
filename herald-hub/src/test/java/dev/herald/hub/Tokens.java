package dev.herald.hub;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;

/**
 * Mints real tokens for the tests: HS256 with a secret, RS256 and ES256 key pairs (nimbus), and any
 * HS algorithm with any secret (the JDK's HMAC).
 */
final class Tokens {
  static final String SECRET = "a-test-secret-that-is-long-enough-for-hs256!";

  private Tokens() {}

  /** The claims of a token with these rights, valid for an hour. */
  static JWTClaimsSet.Builder claims(String sub, List<String> publish, List<String> subscribe) {
    JWTClaimsSet.Builder b =
        new JWTClaimsSet.Builder()
            .expirationTime(Date.from(Instant.now().plus(Duration.ofHours(1))))
            .claim("herald", Map.of("publish", publish, "subscribe", subscribe));
    if (sub != null) {
      b.subject(sub);
    }
    return b;
  }

  static String hs256(JWTClaimsSet claims) {
    return hs256(SECRET, claims);
  }

  static String hs256(String secret, JWTClaimsSet claims) {
    try {
      return sign(
          new MACSigner(secret.getBytes(StandardCharsets.UTF_8)), JWSAlgorithm.HS256, null, claims);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * A token signed with {@code alg} (HS256, HS384 or HS512) and the UTF-8 bytes of {@code secret}
   * by the JDK's HMAC, which, like many JWT libraries, signs with a secret of any length (nimbus's
   * signer would refuse one shorter than the hash).
   */
  static String hmac(JWSAlgorithm alg, String secret, JWTClaimsSet claims) {
    return hmac(alg, secret, claims.toString());
  }

  /**
   * As above with the payload as JSON text, so that a test can send claims nimbus's builder would
   * correct or drop (a numeric {@code sub}, an {@code aud} of numbers).
   */
  static String hmac(JWSAlgorithm alg, String secret, String payload) {
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    String signingInput =
        b64.encodeToString(
                ("{\"alg\":\"" + alg.getName() + "\",\"typ\":\"JWT\"}")
                    .getBytes(StandardCharsets.UTF_8))
            + "."
            + b64.encodeToString(payload.getBytes(StandardCharsets.UTF_8));
    try {
      String name = "Hmac" + alg.getName().replace("HS", "SHA");
      javax.crypto.Mac mac = javax.crypto.Mac.getInstance(name);
      mac.init(new javax.crypto.spec.SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), name));
      return signingInput
          + "."
          + b64.encodeToString(mac.doFinal(signingInput.getBytes(StandardCharsets.US_ASCII)));
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Everything allowed, for the subscriber and publisher that witness each refusal. */
  static String admin() {
    return hs256(claims("admin", List.of("*"), List.of("*")).build());
  }

  static String sign(JWSSigner signer, JWSAlgorithm alg, String kid, JWTClaimsSet claims) {
    try {
      SignedJWT jwt =
          new SignedJWT(
              new JWSHeader.Builder(alg).type(JOSEObjectType.JWT).keyID(kid).build(), claims);
      jwt.sign(signer);
      return jwt.serialize();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static RSAKey rsa(String kid) throws Exception {
    return new RSAKeyGenerator(2048).keyID(kid).generate();
  }

  static ECKey ec(String kid) throws Exception {
    return new ECKeyGenerator(Curve.P_256).keyID(kid).generate();
  }

  static String rs256(RSAKey key, JWTClaimsSet claims) throws Exception {
    return sign(new RSASSASigner(key), JWSAlgorithm.RS256, key.getKeyID(), claims);
  }

  static String es256(ECKey key, JWTClaimsSet claims) throws Exception {
    return sign(new ECDSASigner(key), JWSAlgorithm.ES256, key.getKeyID(), claims);
  }

  /** Writes {@code key} as a PEM public key file. */
  static Path pem(Path dir, String name, PublicKey key) throws Exception {
    String body =
        Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
            .encodeToString(key.getEncoded());
    Path file = dir.resolve(name);
    Files.writeString(file, "-----BEGIN PUBLIC KEY-----\n" + body + "\n-----END PUBLIC KEY-----\n");
    return file;
  }

  /** An unsigned token: {@code alg: none}, with the given claims. */
  static String unsigned(JWTClaimsSet claims) {
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    return b64.encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8))
        + "."
        + b64.encodeToString(claims.toString().getBytes(StandardCharsets.UTF_8))
        + ".";
  }
}
