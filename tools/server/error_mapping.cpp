#include "server/error_mapping.hpp"

#include <iostream>

#include "common/gallery_retry.hpp"

namespace siamface::server {

Dialect dialect_for_path(const std::string& path) {
  if (path.rfind("/v1/vision/", 0) == 0) return Dialect::kDeepStack;
  if (path.rfind("/api/v1/", 0) == 0) return Dialect::kCompreFace;
  return Dialect::kNative;
}

int status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInvalidImage:
    case ErrorCode::kNoFace:
      return 400;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kImageTooLarge:
      return 413;
    case ErrorCode::kGalleryBusy:
    case ErrorCode::kGalleryUnavailable:
      return 503;
    default:
      return 500;
  }
}

namespace {

const char* status_code_name(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 413: return "too_large";
    case 429: return "too_many_requests";
    case 503: return "unavailable";
    default: return "internal";
  }
}

// The message a DeepStack client expects for a library error.
std::string deepstack_message(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kInvalidImage: return "invalid image";
    case ErrorCode::kNoFace: return "no face detected";
    default: return error.what();
  }
}

}  // namespace

void write_json(httplib::Response& response, const nlohmann::json& body, int status) {
  response.status = status;
  response.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void write_error(httplib::Response& response, Dialect dialect, int status, const std::string& message,
                 int api_code) {
  nlohmann::json body;
  switch (dialect) {
    case Dialect::kDeepStack:
      body = {{"success", false}, {"error", message}};
      break;
    case Dialect::kCompreFace:
      body = {{"message", message}, {"code", api_code != 0 ? api_code : status}};
      break;
    case Dialect::kNative:
      body = {{"error", {{"code", status_code_name(status)}, {"message", message}}}};
      break;
  }
  write_json(response, body, status);
}

httplib::Server::Handler guarded(Dialect dialect, Handler handler) {
  return [dialect, handler = std::move(handler)](const httplib::Request& request, httplib::Response& response) {
    try {
      // A PostgreSQL gallery whose server is away: retried for up to 5 s, then 503.
      tools::retry_while_unavailable(request.path, [&] { handler(request, response); });
    } catch (const HttpError& e) {
      write_error(response, dialect, e.status(), e.what(), e.api_code());
      if (e.retry_after_s() > 0) response.set_header("Retry-After", std::to_string(e.retry_after_s()));
    } catch (const Error& e) {
      const int status = status_for(e.code());
      if (dialect == Dialect::kCompreFace && e.code() == ErrorCode::kNoFace) {
        // Clients such as Double Take test code == 28.
        write_error(response, dialect, 400, "No face is found in the given image", 28);
      } else if (dialect == Dialect::kDeepStack) {
        write_error(response, dialect, status, deepstack_message(e));
      } else {
        write_error(response, dialect, status, e.what());
      }
      if (status >= 500) std::cerr << "siamface serve: " << request.path << ": " << e.what() << '\n';
    } catch (const std::exception& e) {
      std::cerr << "siamface serve: internal error on " << request.path << ": " << e.what() << '\n';
      write_error(response, dialect, 500, std::string("internal error: ") + e.what());
    } catch (...) {
      write_error(response, dialect, 500, "internal error");
    }
  };
}

void fill_default_error(const httplib::Request& request, httplib::Response& response) {
  if (!response.body.empty()) return;
  const Dialect dialect = dialect_for_path(request.path);
  std::string message;
  switch (response.status) {
    case 400: message = "malformed request (body or multipart form could not be parsed)"; break;
    case 404: message = "no such endpoint: " + request.method + " " + request.path; break;
    case 405: message = "method not allowed"; break;
    case 413: message = "request body too large (see --max-body-bytes)"; break;
    default: message = "HTTP error " + std::to_string(response.status); break;
  }
  write_error(response, dialect, response.status, message);
}

}  // namespace siamface::server
