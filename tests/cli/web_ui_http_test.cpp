// The web page's HTTP side, against a real `siamface serve` (docs/web-ui.md; under cli/ because it
// runs the built binary, which the sanitizer presets do not build): the page and its
// assets with their security and cache headers, the login cookie's attributes, the session's
// CSRF token, and the refusals (401 without a key or session, 403 for a cookie without the CSRF
// header or from another Origin, 429 after repeated wrong keys).
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "common/server_process.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

constexpr const char* kKey = "web-ui-test-key-1234";

httplib::Headers with(std::initializer_list<std::pair<std::string, std::string>> headers) {
  httplib::Headers out;
  for (const auto& [name, value] : headers) out.emplace(name, value);
  return out;
}

// The "name=value" part of a Set-Cookie header.
std::string cookie_pair(const std::string& set_cookie) { return set_cookie.substr(0, set_cookie.find(';')); }

class WebUiHttpTest : public ::testing::Test {
 protected:
  void start(std::vector<std::string> args) {
    server_ = std::make_unique<ServerProcess>(std::move(args));
    ASSERT_GT(server_->port(), 0) << server_->log();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(60, 0);
  }
  void start_with_key() { start({"--api-key", kKey}); }

  std::string origin() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  // Logs in; returns the cookie pair and the CSRF token.
  std::pair<std::string, std::string> log_in() {
    auto res = client_->Post("/login", "key=" + std::string(kKey), "application/x-www-form-urlencoded");
    EXPECT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    if (!res) return {};
    const nlohmann::json body = nlohmann::json::parse(res->body);
    return {cookie_pair(res->get_header_value("Set-Cookie")), body.value("csrf", "")};
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(WebUiHttpTest, PageAndAssetsCarryTheirHeaders) {
  SIAMFACE_REQUIRE_MODELS();
  start_with_key();
  auto page = client_->Get("/");  // the page itself needs no key: it holds no data
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  const std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("img-src 'self' data: blob:"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(page->get_header_value("Cache-Control"), "no-cache");
  const std::string etag = page->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  auto again = client_->Get("/", with({{"If-None-Match", etag}}));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  // Nothing from another site: every script and style is ours.
  EXPECT_EQ(page->body.find("http://"), std::string::npos);
  EXPECT_EQ(page->body.find("https://"), std::string::npos);

  std::smatch script;
  ASSERT_TRUE(std::regex_search(page->body, script, std::regex(R"re(src="(/assets/app\.js\?v=[0-9a-f]{16})")re")))
      << page->body;
  auto js = client_->Get(script[1].str());
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(js->get_header_value("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(js->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_NE(js->body.find("X-Siamface-CSRF"), std::string::npos);

  auto css = client_->Get("/assets/style.css");  // not versioned: revalidated
  ASSERT_TRUE(css);
  EXPECT_EQ(css->status, 200);
  EXPECT_EQ(css->get_header_value("Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(css->get_header_value("Cache-Control"), "no-cache");
  auto stale = client_->Get("/assets/app.js?v=0000000000000000");
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->get_header_value("Cache-Control"), "no-cache") << "a version that is not this content";

  for (const char* missing : {"/assets/nothing.js", "/assets/..%2Fserver.cpp", "/assets/index.html"}) {
    auto res = client_->Get(missing);
    ASSERT_TRUE(res) << missing;
    EXPECT_EQ(res->status, 404) << missing;
  }
}

TEST_F(WebUiHttpTest, LoginSetsAnHttpOnlyStrictCookieThatIsNotTheKey) {
  SIAMFACE_REQUIRE_MODELS();
  start_with_key();
  auto wrong = client_->Post("/login", "key=not-the-key", "application/x-www-form-urlencoded");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_FALSE(wrong->has_header("Set-Cookie"));
  auto empty = client_->Post("/login", "", "application/x-www-form-urlencoded");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 401);

  auto res = client_->Post("/login", "key=" + std::string(kKey), "application/x-www-form-urlencoded");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const std::string cookie = res->get_header_value("Set-Cookie");
  EXPECT_TRUE(std::regex_search(cookie, std::regex("^siamface_session=[0-9a-f]{64}; "))) << cookie;
  EXPECT_NE(cookie.find("; HttpOnly"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("; Path=/"), std::string::npos) << cookie;
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "plain HTTP: " << cookie;
  EXPECT_EQ(cookie.find(kKey), std::string::npos) << cookie;
  EXPECT_EQ(res->get_header_value("Cache-Control"), "no-store");
  const nlohmann::json body = nlohmann::json::parse(res->body);
  EXPECT_TRUE(std::regex_match(body.value("csrf", ""), std::regex("[0-9a-f]{64}"))) << body;
  EXPECT_NE(cookie_pair(cookie), "siamface_session=" + body.value("csrf", "")) << "two different tokens";

  // Behind a TLS proxy the cookie is Secure too; JSON bodies log in as well.
  auto tls = client_->Post("/login", with({{"X-Forwarded-Proto", "https"}}), nlohmann::json{{"key", kKey}}.dump(),
                           "application/json");
  ASSERT_TRUE(tls);
  ASSERT_EQ(tls->status, 200);
  EXPECT_NE(tls->get_header_value("Set-Cookie").find("; Secure"), std::string::npos);

  // GET /session hands the page its CSRF token, only with the cookie.
  auto session = client_->Get("/session", with({{"Cookie", cookie_pair(cookie)}}));
  ASSERT_TRUE(session);
  const nlohmann::json info = nlohmann::json::parse(session->body);
  EXPECT_EQ(info["auth_required"], true);
  EXPECT_EQ(info["logged_in"], true);
  EXPECT_EQ(info["csrf"], body["csrf"]);
  auto anonymous = client_->Get("/session");
  ASSERT_TRUE(anonymous);
  const nlohmann::json none = nlohmann::json::parse(anonymous->body);
  EXPECT_EQ(none["logged_in"], false);
  EXPECT_TRUE(none["csrf"].is_null());
}

TEST_F(WebUiHttpTest, ApiNeedsTheKeyOrALiveSession) {
  SIAMFACE_REQUIRE_MODELS();
  start_with_key();
  ASSERT_TRUE(server_->wait_ready()) << server_->log();
  const auto status_of = [&](const httplib::Headers& headers) {
    auto res = client_->Get("/v1/people", headers);
    return res ? res->status : 0;
  };
  EXPECT_EQ(status_of({}), 401);
  EXPECT_EQ(status_of(with({{"x-api-key", "wrong"}})), 401);
  EXPECT_EQ(status_of(with({{"Cookie", "siamface_session=" + std::string(64, 'a')}})), 401);
  EXPECT_EQ(status_of(with({{"Cookie", std::string("siamface_session=") + kKey}})), 401) << "the key is no cookie";
  EXPECT_EQ(status_of(with({{"x-api-key", kKey}})), 200);
  const auto [cookie, csrf] = log_in();
  EXPECT_EQ(status_of(with({{"Cookie", cookie}})), 200);
  EXPECT_EQ(status_of(with({{"Cookie", "other=1; " + cookie}})), 200);

  // Logging out ends the session on the server, not only in the browser.
  auto out = client_->Post("/logout", with({{"Cookie", cookie}, {"Origin", origin()}}), "", "text/plain");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200);
  EXPECT_NE(out->get_header_value("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(status_of(with({{"Cookie", cookie}})), 401);
}

TEST_F(WebUiHttpTest, ChangesOnACookieNeedTheCsrfTokenAndThisOrigin) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  start_with_key();
  ASSERT_TRUE(server_->wait_ready()) << server_->log();
  const auto [cookie, csrf] = log_in();
  const std::string photo =
      read_binary_file(testdata_dir() / "face_recognition_ageitgey/tests/test_images/obama.jpg");
  const httplib::MultipartFormDataItems form = {file_part("image", photo, "obama.jpg")};
  const auto enrol = [&](const httplib::Headers& headers) {
    auto res = client_->Post("/v1/people/obama/faces", headers, form);
    return res ? res->status : 0;
  };
  const auto people = [&] {
    auto res = client_->Get("/v1/people", with({{"x-api-key", kKey}}));
    return res ? nlohmann::json::parse(res->body)["people"].size() : 999;
  };

  EXPECT_EQ(enrol(with({{"Cookie", cookie}})), 403) << "no CSRF header";
  EXPECT_EQ(enrol(with({{"Cookie", cookie}, {"X-Siamface-CSRF", std::string(64, '0')}})), 403);
  EXPECT_EQ(enrol(with({{"Cookie", cookie}, {"X-Siamface-CSRF", cookie.substr(cookie.find('=') + 1)}})), 403)
      << "the session token is not the CSRF token";
  EXPECT_EQ(enrol(with({{"Cookie", cookie}, {"X-Siamface-CSRF", csrf}, {"Origin", "http://evil.example"}})), 403);
  EXPECT_EQ(enrol(with({{"Cookie", cookie}, {"X-Siamface-CSRF", csrf}, {"Sec-Fetch-Site", "cross-site"}})), 403);
  EXPECT_EQ(enrol(with({{"x-api-key", kKey}, {"Origin", "null"}})), 403) << "another site's page, even with a key";
  EXPECT_EQ(people(), 0U) << "nothing refused may have changed the gallery";

  auto refused = client_->Delete("/v1/people/obama", with({{"Cookie", cookie}}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 403);
  const nlohmann::json error = nlohmann::json::parse(refused->body);
  EXPECT_EQ(error["error"]["code"], "forbidden");
  EXPECT_NE(error["error"]["message"].get<std::string>().find("X-Siamface-CSRF"), std::string::npos);

  EXPECT_EQ(enrol(with({{"Cookie", cookie}, {"X-Siamface-CSRF", csrf}, {"Origin", origin()}})), 200);
  // Behind a proxy that rewrites Host: the browser's host comes in X-Forwarded-Host.
  EXPECT_EQ(enrol(with({{"Cookie", cookie}, {"X-Siamface-CSRF", csrf}, {"Origin", "https://faces.example"},
                        {"X-Forwarded-Host", "faces.example"}})), 200);
  EXPECT_EQ(enrol(with({{"Cookie", cookie}, {"X-Siamface-CSRF", csrf}, {"Origin", "https://evil.example"},
                        {"X-Forwarded-Host", "faces.example"}})), 403);
  EXPECT_EQ(people(), 1U);
  EXPECT_EQ(enrol(with({{"x-api-key", kKey}})), 200) << "API clients (no Origin) are unchanged";
}

TEST_F(WebUiHttpTest, RepeatedWrongKeysAreThrottled) {
  SIAMFACE_REQUIRE_MODELS();
  start_with_key();
  int throttled = 0;
  for (int i = 0; i < 12; ++i) {
    auto res = client_->Post("/login", "key=guess" + std::to_string(i), "application/x-www-form-urlencoded");
    ASSERT_TRUE(res);
    if (res->status == 429) ++throttled;
    else EXPECT_EQ(res->status, 401);
  }
  EXPECT_EQ(throttled, 2) << "10 failures a minute, then 429";
  auto right = client_->Post("/login", "key=" + std::string(kKey), "application/x-www-form-urlencoded");
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 429) << "the right key waits too: otherwise the throttle would tell it apart";
  auto api = client_->Get("/v1/people", with({{"x-api-key", kKey}}));
  ASSERT_TRUE(api);
  EXPECT_NE(api->status, 401) << "API clients with the key are not throttled";
}

TEST_F(WebUiHttpTest, WithoutAKeyThePageNeedsNoLoginButOtherSitesAreStillRefused) {
  SIAMFACE_REQUIRE_MODELS();
  start({});
  ASSERT_TRUE(server_->wait_ready()) << server_->log();
  auto session = client_->Get("/session");
  ASSERT_TRUE(session);
  const nlohmann::json info = nlohmann::json::parse(session->body);
  EXPECT_EQ(info["auth_required"], false);
  EXPECT_EQ(info["logged_in"], true);
  auto people = client_->Get("/v1/people");
  ASSERT_TRUE(people);
  EXPECT_EQ(people->status, 200);
  auto cross = client_->Delete("/v1/people/anyone", with({{"Origin", "http://evil.example"}}));
  ASSERT_TRUE(cross);
  EXPECT_EQ(cross->status, 403);
  auto deepstack = client_->Post("/v1/vision/face/delete", with({{"Origin", "http://evil.example"}}), "userid=x",
                                 "application/x-www-form-urlencoded");
  ASSERT_TRUE(deepstack);
  EXPECT_EQ(deepstack->status, 403) << "a form on another site cannot post to the drop-in APIs either";
  auto same = client_->Delete("/v1/people/anyone", with({{"Origin", origin()}}));
  ASSERT_TRUE(same);
  EXPECT_NE(same->status, 403);
}

}  // namespace
}  // namespace siamface::test
