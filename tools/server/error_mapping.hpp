// The one place that turns exceptions into HTTP statuses and JSON error bodies.
#pragma once

#include <httplib.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "siamface/errors.hpp"

namespace siamface::server {

// Which API's error body shape to use.
enum class Dialect {
  kNative,      // {"error":{"code":"invalid_argument","message":".."}}
  kDeepStack,   // {"success":false,"error":".."}
  kCompreFace,  // {"message":"..","code":n}
};

Dialect dialect_for_path(const std::string& path);

// An error that carries its HTTP status (auth 401, loading 503, API-specific 400s...).
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message, int api_code = 0, int retry_after_s = 0)
      : std::runtime_error(message), status_(status), api_code_(api_code), retry_after_s_(retry_after_s) {}
  int status() const { return status_; }
  int api_code() const { return api_code_; }  // CompreFace "code"; 0: derived from status
  int retry_after_s() const { return retry_after_s_; }  // > 0: sent as Retry-After

 private:
  int status_;
  int api_code_;
  int retry_after_s_;
};

// bad input 400, not found 404, too large 413, busy 503, anything else 500.
int status_for(ErrorCode code);

void write_json(httplib::Response& response, const nlohmann::json& body, int status = 200);
void write_error(httplib::Response& response, Dialect dialect, int status, const std::string& message,
                 int api_code = 0);

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

// Wraps a handler so that nothing escapes: every exception becomes a JSON error in `dialect`.
// Thread safety: the returned handler is as thread-safe as `handler`.
httplib::Server::Handler guarded(Dialect dialect, Handler handler);

// For httplib's own errors (413 body too large, 400 malformed multipart, 404 no route): fills
// an empty error response with a JSON body in the path's dialect.
void fill_default_error(const httplib::Request& request, httplib::Response& response);

}  // namespace siamface::server
