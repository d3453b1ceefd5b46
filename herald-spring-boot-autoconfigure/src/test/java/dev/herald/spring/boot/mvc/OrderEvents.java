package dev.herald.spring.boot.mvc;

import dev.herald.spring.boot.HeraldPublisher;
import dev.herald.spring.boot.HeraldStream;
import java.util.Map;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RestController;

/** The README's Spring MVC example, as the README quotes it (ReadmeTest keeps them identical). */
// README:begin
@RestController
record OrderEvents(HeraldPublisher herald) {
  @GetMapping("/orders/{id}/events") // resumes from Last-Event-ID
  HeraldStream events(@PathVariable String id) {
    return HeraldStream.of("orders/" + id); // after your own authorization
  }

  @PostMapping("/orders/{id}/ship")
  void ship(@PathVariable String id) {
    herald.publish("orders/" + id, "shipped", Map.of("order", id)).join();
  }
}
// README:end
