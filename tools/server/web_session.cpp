#include "server/web_session.hpp"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <stdexcept>
#include <vector>

namespace siamface::server {

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> buffer(bytes);
  std::size_t filled = 0;
  while (filled < bytes) {
    const ssize_t got = ::getrandom(buffer.data() + filled, bytes - filled, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed: no random bytes for a session token");
    }
    filled += static_cast<std::size_t>(got);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char b : buffer) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

WebSession WebSessions::create(Clock::time_point now) {
  WebSession session{random_hex(32), random_hex(32)};
  std::lock_guard lock(mutex_);
  purge_locked(now);
  while (sessions_.size() >= std::max<std::size_t>(limits_.max_sessions, 1)) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
      return a.second.last_used < b.second.last_used;
    });
    sessions_.erase(oldest);
  }
  sessions_.emplace(session.token, Entry{session.csrf, now, now});
  return session;
}

std::optional<WebSession> WebSessions::find(std::string_view token, Clock::time_point now) {
  if (token.empty()) return std::nullopt;
  std::lock_guard lock(mutex_);
  purge_locked(now);
  // A map lookup compares the token byte by byte, but the tokens are random 256-bit values: what
  // a timing probe could learn is where a guess first differs from some live token, which
  // does not help guess one (each guess is still 1 in 2^256 per session).
  const auto it = sessions_.find(token);
  if (it == sessions_.end()) return std::nullopt;
  it->second.last_used = now;
  return WebSession{it->first, it->second.csrf};
}

void WebSessions::remove(std::string_view token) {
  std::lock_guard lock(mutex_);
  if (const auto it = sessions_.find(token); it != sessions_.end()) sessions_.erase(it);
}

std::size_t WebSessions::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

void WebSessions::purge_locked(Clock::time_point now) {
  std::erase_if(sessions_, [&](const auto& item) {
    const Entry& e = item.second;
    return now - e.last_used >= limits_.idle || now - e.created >= limits_.absolute;
  });
}

bool WebSessions::login_allowed(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (now - failures_since_ >= limits_.failed_login_window) failures_ = 0;
  return failures_ < limits_.max_failed_logins;
}

void WebSessions::record_failed_login(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (failures_ == 0 || now - failures_since_ >= limits_.failed_login_window) {
    failures_since_ = now;
    failures_ = 0;
  }
  ++failures_;
}

std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name) {
  std::size_t pos = 0;
  while (pos <= cookie_header.size()) {
    std::size_t end = cookie_header.find(';', pos);
    if (end == std::string_view::npos) end = cookie_header.size();
    std::string_view pair = cookie_header.substr(pos, end - pos);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    while (!pair.empty() && pair.back() == ' ') pair.remove_suffix(1);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      std::string_view value = pair.substr(eq + 1);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      return std::string(value);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

bool origin_matches_host(std::string_view origin, std::string_view host) {
  if (host.empty()) return false;
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (origin.size() != scheme.size() + host.size() || origin.substr(0, scheme.size()) != scheme) continue;
    const std::string_view rest = origin.substr(scheme.size());
    const bool same = std::equal(rest.begin(), rest.end(), host.begin(), host.end(), [](char a, char b) {
      return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
    });
    if (same) return true;
  }
  return false;
}

std::string session_cookie(std::string_view token, long long max_age_s, bool secure) {
  std::string cookie = std::string(kSessionCookie) + "=" + std::string(token) +
                       "; Max-Age=" + std::to_string(std::max(0LL, max_age_s)) + "; Path=/; HttpOnly; SameSite=Strict";
  if (secure) cookie += "; Secure";
  return cookie;
}

}  // namespace siamface::server
