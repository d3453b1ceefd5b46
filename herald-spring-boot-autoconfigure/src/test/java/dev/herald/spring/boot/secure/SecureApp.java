package dev.herald.spring.boot.secure;

import dev.herald.spring.boot.HeraldStream;
import dev.herald.spring.boot.testing.CloseRecorder;
import java.security.Principal;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.http.HttpStatus;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.core.userdetails.User;
import org.springframework.security.provisioning.InMemoryUserDetailsManager;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;

/**
 * Spring Security in front of Herald streams: HTTP basic, two users, and each user streams only
 * their own topic, {@code members/<username>}.
 */
@SpringBootApplication
@Import(CloseRecorder.class)
public class SecureApp {
  @Bean
  SecurityFilterChain security(HttpSecurity http) throws Exception {
    return http.authorizeHttpRequests(requests -> requests.anyRequest().authenticated())
        .httpBasic(Customizer.withDefaults())
        .csrf(csrf -> csrf.disable())
        .build();
  }

  @Bean
  InMemoryUserDetailsManager users() {
    return new InMemoryUserDetailsManager(
        User.withUsername("alice").password("{noop}alice-secret").roles("USER").build(),
        User.withUsername("bob").password("{noop}bob-secret").roles("USER").build());
  }

  /** A member's events: the application decides the topic from who is asking. */
  @RestController
  static class MemberEvents {
    @GetMapping("/me/events")
    HeraldStream mine(Principal user) {
      return HeraldStream.of("members/" + user.getName());
    }

    @GetMapping("/members/{name}/events")
    HeraldStream member(@PathVariable String name, Principal user) {
      if (!name.equals(user.getName())) {
        throw new ResponseStatusException(HttpStatus.FORBIDDEN, "not your topic");
      }
      return HeraldStream.of("members/" + name);
    }
  }
}
