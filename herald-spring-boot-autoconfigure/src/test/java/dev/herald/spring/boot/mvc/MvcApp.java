package dev.herald.spring.boot.mvc;

import dev.herald.spring.boot.HeraldStream;
import dev.herald.spring.boot.testing.CloseRecorder;
import jakarta.servlet.Filter;
import java.util.List;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/**
 * A Spring MVC application on Tomcat that streams with Herald: the README's {@link OrderEvents},
 * rooms chosen by a query parameter, and the same behind a filter without async support.
 */
@SpringBootApplication(
    excludeName = {
      "org.springframework.boot.autoconfigure.security.servlet.SecurityAutoConfiguration",
      "org.springframework.boot.autoconfigure.security.servlet.SecurityFilterAutoConfiguration",
      "org.springframework.boot.autoconfigure.security.servlet.UserDetailsServiceAutoConfiguration",
      "org.springframework.boot.actuate.autoconfigure.security.servlet.ManagementWebSecurityAutoConfiguration"
    })
@Import(CloseRecorder.class)
public class MvcApp {
  /** Requests under /sync/ pass a filter registered without async support. */
  @Bean
  FilterRegistrationBean<Filter> syncFilter() {
    FilterRegistrationBean<Filter> bean =
        new FilterRegistrationBean<>(
            (request, response, chain) -> chain.doFilter(request, response));
    bean.addUrlPatterns("/sync/*");
    bean.setAsyncSupported(false);
    return bean;
  }

  /** The application's own {@code POST} on the path of the ready-made stream endpoint. */
  @RestController
  static class PostOnTheStreamPath {
    @PostMapping("/events")
    String post() {
      return "posted to the application";
    }
  }

  /** Streams {@code rooms/<room>} for each {@code ?room=}. */
  @RestController
  static class RoomEvents {
    @GetMapping({"/rooms/events", "/sync/rooms/events"})
    HeraldStream rooms(@RequestParam List<String> room) {
      return HeraldStream.of(room.stream().map(name -> "rooms/" + name).toList());
    }
  }
}
