#include "server/api_common.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "util/sha256.hpp"

namespace siamface::server {

RequestFields request_fields(const httplib::Request& request) {
  RequestFields fields;
  fields.content_type = request.get_header_value("Content-Type");
  fields.body = request.body;
  // application/x-www-form-urlencoded bodies land in params (with the query string).
  fields.params.assign(request.params.begin(), request.params.end());
  for (const auto& [name, part] : request.files) {
    fields.parts.push_back({name, part.filename, part.content_type, part.content});
  }
  return fields;
}

FormData read_form(const httplib::Request& request, const std::vector<std::string>& text_fields) {
  RequestFields fields = request_fields(request);
  FormData form = split_form(std::move(fields.parts), text_fields);
  for (auto& [name, value] : fields.params) form.fields.emplace_back(std::move(name), std::move(value));
  return form;
}

std::optional<std::string> param(const httplib::Request& request, const FormData& form, const std::string& name) {
  if (auto value = form.field(name)) return value;
  if (request.has_param(name.c_str())) return request.get_param_value(name.c_str());
  return std::nullopt;
}

Image decode_upload(const ServerContext& context, const std::string& bytes) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  return decode_image(std::span<const std::uint8_t>(data, bytes.size()), context.decode_options());
}

GalleryFace prepare_upload(const ServerContext& context, const Loaded& loaded, const std::string& person,
                           const UploadedFile& file, const PipelineOptions& pipeline) {
  check_person_name(person);
  // The CLI's enrolment path: the largest confident face, the same quality gate.
  EnrollOptions options;
  options.take_largest = true;
  options.decode = context.decode_options();
  options.pipeline = pipeline;
  const auto* data = reinterpret_cast<const std::uint8_t*>(file.content.data());
  const std::string name = file.filename.empty() ? file.field : file.filename;
  EnrollResult result = prepare_enrollment_bytes(loaded.engine, person, {data, file.content.size()}, "http:" + name, options);
  if (!result.face) {
    const bool no_face = result.reason == kNoFaceFound;
    throw Error(no_face ? ErrorCode::kNoFace : ErrorCode::kInvalidArgument,
                (no_face ? std::string(kNoFaceFound) : "face rejected: " + result.reason) + " in uploaded file '" + name + "'");
  }
  return *result.face;
}

AddOutcome enroll_upload(const ServerContext& context, const Loaded& loaded, const std::string& person,
                         const UploadedFile& file, const PipelineOptions& pipeline) {
  return loaded.gallery->add_face(prepare_upload(context, loaded, person, file, pipeline));
}

LivenessCheck liveness_check(const ServerContext& context, const LivenessRequest& request) {
  LivenessCheck check;
  check.enabled = request.asked.value_or(context.options().liveness);
  check.threshold = request.threshold ? request.threshold : context.options().liveness_threshold;
  if (request.threshold && !check.enabled) {
    throw Error(ErrorCode::kInvalidArgument,
                "liveness_threshold needs liveness=true (the liveness check is off on this server unless asked)");
  }
  return check;
}

std::vector<IdentifiedFace> identify_upload(const ServerContext& context, const Loaded& loaded,
                                            const Image& image, const PipelineOptions& pipeline, std::size_t top_k,
                                            std::optional<float> threshold, const LivenessRequest& liveness) {
  IdentifyOptions options;
  options.liveness = liveness_check(context, liveness);
  options.top_k = std::max<std::size_t>(top_k, 1);
  options.pipeline = pipeline;
  options.threshold = threshold;  // identify_image resolves it against the gallery's
  options.allow_looser_threshold = context.options().allow_looser_thresholds;
  std::vector<IdentifiedFace> faces = identify_image(loaded.engine, *loaded.gallery, image, options);
  if (context.options().on_identified) context.options().on_identified(faces);
  return faces;
}

std::size_t keep_unknown_if_enabled(const Loaded& loaded, const Image& image, const std::vector<IdentifiedFace>& faces,
                                    const UploadedFile& file) {
  if (!loaded.gallery->unknown_policy().keep) return 0;
  const auto* data = reinterpret_cast<const std::uint8_t*>(file.content.data());
  const std::string sha = sha256_hex({data, file.content.size()});
  const std::string source = "http:" + (file.filename.empty() ? file.field : file.filename);
  return keep_unknown_faces(*loaded.gallery, loaded.engine.model_info(), image, faces, source, sha, sha).kept;
}

Handler with_inference_slot(const ServerContext& context, Handler handler) {
  return [&context, handler = std::move(handler)](const httplib::Request& request, httplib::Response& response) {
    const InferenceGate::Slot slot = context.enter_inference();
    handler(request, response);
  };
}

void add_routes(httplib::Server& server, ServerContext& context, Dialect dialect, const std::vector<Route>& routes,
                Authorize authorize) {
  for (const Route& route : routes) {
    Handler handler = [&context, body = route.handler](const httplib::Request& request, httplib::Response& response) {
      body(context, request, response);
    };
    if (route.runs_networks) handler = with_inference_slot(context, std::move(handler));
    if (authorize) {
      handler = [&context, authorize, inner = std::move(handler)](const httplib::Request& request,
                                                                 httplib::Response& response) {
        authorize(context, request);
        inner(request, response);
      };
    }
    httplib::Server::Handler wrapped = guarded(dialect, std::move(handler));
    switch (route.method) {
      case Method::kGet: server.Get(route.pattern, std::move(wrapped)); break;
      case Method::kPost: server.Post(route.pattern, std::move(wrapped)); break;
      case Method::kPut: server.Put(route.pattern, std::move(wrapped)); break;
      case Method::kDelete: server.Delete(route.pattern, std::move(wrapped)); break;
    }
  }
}

void check_key(const ServerContext& context, const std::string& given, const std::string& message) {
  if (!context.auth_required()) return;
  if (!context.key_matches(given)) throw HttpError(401, message);
}

bool is_safe_method(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS";
}

void authorize_native(const ServerContext& context, const httplib::Request& request) {
  if (!context.auth_required()) return;
  std::string key = request.get_header_value("x-api-key");
  if (key.empty()) key = bearer_token(request.get_header_value("Authorization"));
  if (key.empty() && request.has_header("Cookie")) {
    const auto token = cookie_value(request.get_header_value("Cookie"), kSessionCookie);
    if (token) {
      const auto session = context.web_sessions.find(*token);
      if (!session) throw HttpError(401, "session expired or unknown: log in again");
      if (is_safe_method(request.method)) return;
      const std::string csrf = request.get_header_value(std::string(kCsrfHeader).c_str());
      if (csrf.empty() || !constant_time_equals(csrf, session->csrf)) {
        throw HttpError(403, "missing or wrong " + std::string(kCsrfHeader) +
                                 " header (a request that changes data on a session cookie must carry the token of GET /session)");
      }
      // The Origin rule (a request from another site is refused) is checked for every request
      // before routing (web_ui.cpp), so it holds here too.
      return;
    }
  }
  check_key(context, key, "missing or wrong API key (send x-api-key or Authorization: Bearer, or log in at /)");
}

nlohmann::json box_fields(const Box& box, int width, int height) {
  const auto clamp = [](float v, int hi) { return std::clamp(static_cast<int>(std::lround(v)), 0, std::max(hi, 0)); };
  return {{"x_min", clamp(box.left, width)},
          {"y_min", clamp(box.top, height)},
          {"x_max", clamp(box.right(), width)},
          {"y_max", clamp(box.bottom(), height)}};
}

nlohmann::json five_points(const Face& face) {
  const auto mean = [&](int from, int to) {
    float x = 0, y = 0;
    for (int i = from; i <= to; ++i) {
      x += face.landmarks[i].x;
      y += face.landmarks[i].y;
    }
    const float n = static_cast<float>(to - from + 1);
    return nlohmann::json::array({std::lround(x / n), std::lround(y / n)});
  };
  const auto point = [&](int i) {
    return nlohmann::json::array({std::lround(face.landmarks[i].x), std::lround(face.landmarks[i].y)});
  };
  // Image-left eye first (the subject's right eye, 36-41), then nose tip, mouth corners.
  return nlohmann::json::array({mean(36, 41), mean(42, 47), point(30), point(48), point(54)});
}

}  // namespace siamface::server
