// The web page's login rules (tools/server/web_session.*): session tokens, expiry, the login
// throttle, the Cookie parser, the Origin rule and the Set-Cookie attributes.
#include "server/web_session.hpp"

#include <gtest/gtest.h>

#include <set>

namespace siamface::server {
namespace {

using namespace std::chrono_literals;
using Clock = WebSessions::Clock;

TEST(WebSessionTest, TokensAreRandom256BitHexAndDistinct) {
  WebSessions sessions;
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const WebSession s = sessions.create();
    EXPECT_EQ(s.token.size(), 64U);
    EXPECT_EQ(s.csrf.size(), 64U);
    EXPECT_EQ(s.token.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(s.token, s.csrf);
    EXPECT_TRUE(seen.insert(s.token).second);
    EXPECT_TRUE(seen.insert(s.csrf).second);
  }
}

TEST(WebSessionTest, FindReturnsTheSessionUntilRemoved) {
  WebSessions sessions;
  const WebSession s = sessions.create();
  const auto found = sessions.find(s.token);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->csrf, s.csrf);
  EXPECT_FALSE(sessions.find(s.csrf)) << "the CSRF token is not a session";
  EXPECT_FALSE(sessions.find(""));
  EXPECT_FALSE(sessions.find(s.token.substr(0, 63)));
  sessions.remove(s.token);
  EXPECT_FALSE(sessions.find(s.token));
  EXPECT_EQ(sessions.size(), 0U);
}

TEST(WebSessionTest, IdleAndAbsoluteExpiry) {
  WebSessions sessions(WebSessions::Limits{.idle = 10s, .absolute = 25s});
  const Clock::time_point t0 = Clock::now();
  const WebSession s = sessions.create(t0);
  EXPECT_TRUE(sessions.find(s.token, t0 + 9s));   // used: idle clock restarts
  EXPECT_TRUE(sessions.find(s.token, t0 + 18s));
  EXPECT_TRUE(sessions.find(s.token, t0 + 24s));
  EXPECT_FALSE(sessions.find(s.token, t0 + 25s)) << "absolute limit, however busy";
  const WebSession idle = sessions.create(t0 + 30s);
  EXPECT_FALSE(sessions.find(idle.token, t0 + 40s)) << "10 s unused";
}

TEST(WebSessionTest, OldestSessionGoesBeyondTheCap) {
  WebSessions sessions(WebSessions::Limits{.max_sessions = 3});
  const Clock::time_point t0 = Clock::now();
  const WebSession a = sessions.create(t0);
  const WebSession b = sessions.create(t0 + 1s);
  const WebSession c = sessions.create(t0 + 2s);
  ASSERT_TRUE(sessions.find(a.token, t0 + 3s));  // a used last: b is now the least recently used
  const WebSession d = sessions.create(t0 + 4s);
  EXPECT_EQ(sessions.size(), 3U);
  EXPECT_TRUE(sessions.find(a.token, t0 + 5s));
  EXPECT_FALSE(sessions.find(b.token, t0 + 5s));
  EXPECT_TRUE(sessions.find(c.token, t0 + 5s));
  EXPECT_TRUE(sessions.find(d.token, t0 + 5s));
}

TEST(WebSessionTest, FailedLoginsAreThrottledPerWindow) {
  WebSessions sessions(WebSessions::Limits{.max_failed_logins = 3, .failed_login_window = 60s});
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(sessions.login_allowed(t0 + std::chrono::seconds(i)));
    sessions.record_failed_login(t0 + std::chrono::seconds(i));
  }
  EXPECT_FALSE(sessions.login_allowed(t0 + 10s));
  EXPECT_TRUE(sessions.login_allowed(t0 + 61s)) << "a new window";
}

TEST(WebSessionTest, CookieValue) {
  EXPECT_EQ(cookie_value("siamface_session=abc", kSessionCookie), "abc");
  EXPECT_EQ(cookie_value("a=1; siamface_session=abc; b=2", kSessionCookie), "abc");
  EXPECT_EQ(cookie_value("a=1;siamface_session=\"abc\"", kSessionCookie), "abc");
  EXPECT_FALSE(cookie_value("xsiamface_session=abc; siamface_sessionx=d", kSessionCookie));
  EXPECT_FALSE(cookie_value("", kSessionCookie));
  EXPECT_EQ(cookie_value("siamface_session=", kSessionCookie), "");
}

TEST(WebSessionTest, OriginMustNameThisHost) {
  EXPECT_TRUE(origin_matches_host("http://127.0.0.1:5000", "127.0.0.1:5000"));
  EXPECT_TRUE(origin_matches_host("https://Faces.Example:8443", "faces.example:8443"));
  EXPECT_FALSE(origin_matches_host("http://127.0.0.1:5001", "127.0.0.1:5000"));
  EXPECT_FALSE(origin_matches_host("http://evil.example", "127.0.0.1:5000"));
  EXPECT_FALSE(origin_matches_host("http://127.0.0.1:5000.evil.example", "127.0.0.1:5000"));
  EXPECT_FALSE(origin_matches_host("null", "127.0.0.1:5000"));
  EXPECT_FALSE(origin_matches_host("ftp://127.0.0.1:5000", "127.0.0.1:5000"));
  EXPECT_FALSE(origin_matches_host("http://", ""));
}

TEST(WebSessionTest, CookieAttributes) {
  const std::string in = session_cookie("tok", 3600, false);
  EXPECT_EQ(in, "siamface_session=tok; Max-Age=3600; Path=/; HttpOnly; SameSite=Strict");
  EXPECT_NE(session_cookie("tok", 3600, true).find("; Secure"), std::string::npos);
  EXPECT_EQ(session_cookie("", 0, false).find("Max-Age=0;") != std::string::npos, true);
}

}  // namespace
}  // namespace siamface::server
