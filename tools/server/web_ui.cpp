// The web page of `siamface serve` (docs/web-ui.md): its files, compiled in from
// tools/server/web/ (cmake/embed_web_assets.cmake), the login that turns the API key into a
// session cookie, and the rule that refuses requests from other sites.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "server/api_common.hpp"
#include "server/web_assets.hpp"
#include "server/web_session.hpp"
#include "util/sha256.hpp"

namespace siamface::server {
namespace {

using nlohmann::json;

// Scripts, styles, fonts and connections from this server only; images also from data: and
// blob: URLs (the identify view draws an uploaded photo from a blob). No inline script or
// style, no plugins, no framing by other pages, forms post here only.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'";

// A versioned asset URL (?v=<hash>) never changes content, so browsers may keep it for a year;
// the page itself is revalidated on every load (ETag), so a new binary's page is seen at once.
constexpr const char* kImmutable = "public, max-age=31536000, immutable";
constexpr const char* kRevalidate = "no-cache";

std::string_view content_type_of(std::string_view path) {
  const auto ends_with = [&](std::string_view suffix) {
    return path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix;
  };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  if (ends_with(".png")) return "image/png";
  if (ends_with(".json")) return "application/json";
  return "application/octet-stream";
}

const web_assets::Asset* find_asset(std::string_view path) {
  for (const web_assets::Asset& asset : web_assets::kAssets) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

std::string short_hash(std::string_view sha256) { return std::string(sha256.substr(0, 16)); }

// index.html with every "/assets/NAME" reference turned into "/assets/NAME?v=<hash of NAME>".
std::string versioned_index() {
  const web_assets::Asset* index = find_asset("index.html");
  std::string html = index ? std::string(index->content) : std::string("<!doctype html><title>siamface</title>");
  for (const web_assets::Asset& asset : web_assets::kAssets) {
    const std::string reference = "/assets/" + std::string(asset.path) + "\"";
    const std::string versioned = "/assets/" + std::string(asset.path) + "?v=" + short_hash(asset.sha256) + "\"";
    for (std::size_t at = html.find(reference); at != std::string::npos; at = html.find(reference, at + versioned.size())) {
      html.replace(at, reference.size(), versioned);
    }
  }
  return html;
}

void set_security_headers(httplib::Response& response) {
  response.set_header("Content-Security-Policy", kContentSecurityPolicy);
  response.set_header("X-Content-Type-Options", "nosniff");
  response.set_header("X-Frame-Options", "DENY");
  response.set_header("Referrer-Policy", "no-referrer");
}

// Serves `body` with an ETag; answers 304 when the browser already holds it.
void serve_file(const httplib::Request& request, httplib::Response& response, const std::string& body,
                std::string_view content_type, const std::string& etag, const char* cache_control) {
  set_security_headers(response);
  response.set_header("Cache-Control", cache_control);
  response.set_header("ETag", etag);
  if (request.get_header_value("If-None-Match") == etag) {
    response.status = 304;
    return;
  }
  response.status = 200;
  response.set_content(body, std::string(content_type));
}

void write_no_store_json(httplib::Response& response, const json& body, int status = 200) {
  set_security_headers(response);
  response.set_header("Cache-Control", "no-store");
  write_json(response, body, status);
}

// TLS is terminated by a reverse proxy when there is one (serve speaks plain HTTP); a proxy
// that says so gets the Secure flag. Trusting the header can only make the cookie stricter.
bool came_over_tls(const httplib::Request& request) {
  return request.get_header_value("X-Forwarded-Proto") == "https";
}

std::optional<WebSession> session_of(const ServerContext& context, const httplib::Request& request) {
  const auto token = cookie_value(request.get_header_value("Cookie"), kSessionCookie);
  if (!token) return std::nullopt;
  return context.web_sessions.find(*token);
}

std::string login_key(const httplib::Request& request) {
  if (is_json_content(request.get_header_value("Content-Type"))) {
    const json body = parse_json_object(request.body);
    if (auto key = json_param(body, "key")) return *key;
    return {};
  }
  if (request.is_multipart_form_data()) {
    if (auto key = read_form(request, {"key"}).field("key")) return *key;
    return {};
  }
  // application/x-www-form-urlencoded (the page's form) lands in params.
  return request.has_param("key") ? request.get_param_value("key") : std::string();
}

void login(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  if (!context.auth_required()) {
    write_no_store_json(response, {{"auth_required", false}, {"logged_in", true}, {"csrf", nullptr}});
    return;
  }
  if (!context.web_sessions.login_allowed()) {
    throw HttpError(429, "too many failed logins: wait a minute and try again");
  }
  const std::string key = login_key(request);
  if (key.empty() || !context.key_matches(key)) {
    context.web_sessions.record_failed_login();
    throw HttpError(401, "wrong API key");
  }
  // A session cookie the browser still holds is replaced, never reused (session fixation).
  if (auto old = cookie_value(request.get_header_value("Cookie"), kSessionCookie)) context.web_sessions.remove(*old);
  const WebSession session = context.web_sessions.create();
  const auto max_age = context.web_sessions.limits().idle.count();
  response.set_header("Set-Cookie", session_cookie(session.token, max_age, came_over_tls(request)));
  write_no_store_json(response, {{"auth_required", true}, {"logged_in", true}, {"csrf", session.csrf}});
}

void logout(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  if (auto token = cookie_value(request.get_header_value("Cookie"), kSessionCookie)) context.web_sessions.remove(*token);
  response.set_header("Set-Cookie", session_cookie("", 0, came_over_tls(request)));
  write_no_store_json(response, {{"auth_required", context.auth_required()}, {"logged_in", !context.auth_required()}});
}

// For the page: whether it must show the login form, and the CSRF token of its session. Same
// origin only (no CORS headers), so another site cannot read the token.
void session_info(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  if (!context.auth_required()) {
    write_no_store_json(response, {{"auth_required", false}, {"logged_in", true}, {"csrf", nullptr}});
    return;
  }
  const auto session = session_of(context, request);
  write_no_store_json(response, {{"auth_required", true},
                                 {"logged_in", session.has_value()},
                                 {"csrf", session ? json(session->csrf) : json(nullptr)}});
}

// A request that changes data and comes from a page of another site (its Origin names another
// host, or the browser marks it cross-site) is refused before it reaches any route: a browser
// attaches the session cookie only to same-site requests (SameSite=Strict), but a server run
// without an API key has no cookie to check, and this rule keeps other sites' forms out of it too.
httplib::Server::HandlerResponse refuse_other_sites(const httplib::Request& request, httplib::Response& response) {
  if (is_safe_method(request.method)) return httplib::Server::HandlerResponse::Unhandled;
  const bool cross_site = request.get_header_value("Sec-Fetch-Site") == "cross-site";
  // Behind a reverse proxy that rewrites Host, the host the browser saw is in X-Forwarded-Host
  // (its first value). A page of another site cannot set that header on a request it sends here
  // without a CORS preflight, which this server never grants.
  const auto names_this_server = [&](const std::string& origin) {
    if (origin_matches_host(origin, request.get_header_value("Host"))) return true;
    const std::string forwarded = request.get_header_value("X-Forwarded-Host");
    return !forwarded.empty() && origin_matches_host(origin, forwarded.substr(0, forwarded.find(',')));
  };
  const bool foreign_origin = request.has_header("Origin") && !names_this_server(request.get_header_value("Origin"));
  if (!cross_site && !foreign_origin) return httplib::Server::HandlerResponse::Unhandled;
  write_error(response, dialect_for_path(request.path), 403,
              "request from another site refused (its Origin is not this server)");
  return httplib::Server::HandlerResponse::Handled;
}

}  // namespace

void add_web_routes(httplib::Server& server, ServerContext& context) {
  server.set_pre_routing_handler(refuse_other_sites);

  static const std::string index_html = versioned_index();
  static const std::string index_etag = "\"" + short_hash(sha256_hex({reinterpret_cast<const std::uint8_t*>(index_html.data()),
                                                                     index_html.size()})) + "\"";
  const auto page = guarded(Dialect::kNative, [](const httplib::Request& request, httplib::Response& response) {
    serve_file(request, response, index_html, "text/html; charset=utf-8", index_etag, kRevalidate);
  });
  server.Get("/", page);
  server.Get("/index.html", page);

  server.Get(R"(/assets/([A-Za-z0-9_.-]+))", guarded(Dialect::kNative, [](const httplib::Request& request,
                                                                          httplib::Response& response) {
    const std::string name = request.matches[1];
    const web_assets::Asset* asset = name == "index.html" ? nullptr : find_asset(name);
    if (!asset) throw HttpError(404, "no asset named '" + name + "'");
    const std::string hash = short_hash(asset->sha256);
    // Only the URL that names this very content may be kept for a year.
    const bool versioned = request.has_param("v") && request.get_param_value("v") == hash;
    serve_file(request, response, std::string(asset->content), content_type_of(asset->path), "\"" + hash + "\"",
               versioned ? kImmutable : kRevalidate);
  }));

  server.Get("/session", guarded(Dialect::kNative, [&context](const httplib::Request& request, httplib::Response& response) {
    session_info(context, request, response);
  }));
  server.Post("/login", guarded(Dialect::kNative, [&context](const httplib::Request& request, httplib::Response& response) {
    login(context, request, response);
  }));
  server.Post("/logout", guarded(Dialect::kNative, [&context](const httplib::Request& request, httplib::Response& response) {
    logout(context, request, response);
  }));
}

}  // namespace siamface::server
