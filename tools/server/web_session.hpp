// Browser logins of the web page (docs/web-ui.md, "Security model"): a login with the API key
// gets a random session token (the cookie) and a separate CSRF token (read by the page from
// GET /session and sent back in X-Siamface-CSRF on every request that changes data). Neither is
// derived from the key, so a leaked cookie never reveals it. Sessions live in memory only: a
// restart logs everyone out. No httplib types here, so the rules can be unit-tested.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace siamface::server {

inline constexpr std::string_view kSessionCookie = "siamface_session";
inline constexpr std::string_view kCsrfHeader = "X-Siamface-CSRF";

struct WebSession {
  std::string token;  // the cookie value
  std::string csrf;   // what X-Siamface-CSRF must carry
};

// Thread safety: all methods are safe to call concurrently (one mutex; every call is short).
class WebSessions {
 public:
  using Clock = std::chrono::steady_clock;

  struct Limits {
    std::chrono::seconds idle{12 * 3600};          // unused this long: logged out
    std::chrono::seconds absolute{7 * 24 * 3600};  // whatever the use, at most this long
    std::size_t max_sessions = 1000;               // beyond: the least recently used goes
    int max_failed_logins = 10;                    // per window, for the whole server
    std::chrono::seconds failed_login_window{60};
  };

  WebSessions() = default;
  explicit WebSessions(Limits limits) : limits_(limits) {}

  // A new session with fresh random tokens (getrandom(2), 32 bytes each, hex).
  WebSession create(Clock::time_point now = Clock::now());
  // The live session of a cookie value (and marks it used), else nullopt.
  std::optional<WebSession> find(std::string_view token, Clock::time_point now = Clock::now());
  void remove(std::string_view token);
  std::size_t size() const;
  const Limits& limits() const { return limits_; }

  // Guessing the key through /login: false once max_failed_logins failures fall in the window.
  bool login_allowed(Clock::time_point now = Clock::now());
  void record_failed_login(Clock::time_point now = Clock::now());

 private:
  struct Entry {
    std::string csrf;
    Clock::time_point created;
    Clock::time_point last_used;
  };
  void purge_locked(Clock::time_point now);

  Limits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> sessions_;
  Clock::time_point failures_since_{};
  int failures_ = 0;
};

// `bytes` random bytes from the kernel as lowercase hex. Throws std::runtime_error if the kernel
// has none to give (getrandom fails).
std::string random_hex(std::size_t bytes);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), else nullopt.
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);

// Whether an Origin header names this server: "http://" or "https://" followed by exactly the
// Host header (host[:port], compared case-insensitively). An empty Host never matches.
bool origin_matches_host(std::string_view origin, std::string_view host);

// The Set-Cookie value that logs in (`max_age_s` > 0) or out (0): HttpOnly; SameSite=Strict;
// Path=/, and Secure when the request came over TLS (`secure`).
std::string session_cookie(std::string_view token, long long max_age_s, bool secure);

}  // namespace siamface::server
