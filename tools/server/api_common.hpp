// Helpers the three APIs share: forms, image decoding, enrolment from uploaded bytes, auth.
#pragma once

#include <httplib.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/error_mapping.hpp"
#include "server/request_parsing.hpp"
#include "server/server.hpp"
#include "siamface/identify.hpp"

namespace siamface::server {

// The plain values the parsers of request_parsing.hpp read (copies of the multipart parts).
RequestFields request_fields(const httplib::Request& request);

// Multipart parts plus url-encoded/query parameters as one form. `text_fields` are never files.
FormData read_form(const httplib::Request& request, const std::vector<std::string>& text_fields);

// A field from the form, else from the query string.
std::optional<std::string> param(const httplib::Request& request, const FormData& form, const std::string& name);

Image decode_upload(const ServerContext& context, const std::string& bytes);

// The largest face of an uploaded photo, embedded, as a record for `person` (not stored yet).
// Throws Error(kNoFace) when there is none.
GalleryFace prepare_upload(const ServerContext& context, const Loaded& loaded, const std::string& person,
                           const UploadedFile& file, const PipelineOptions& pipeline);

// prepare_upload, then stored. Duplicates (same person, same image bytes) return the
// existing face id. A request with several photos should prepare them all and store them with
// one Gallery::add_faces: one transaction, so the request lands whole or not at all.
AddOutcome enroll_upload(const ServerContext& context, const Loaded& loaded, const std::string& person,
                         const UploadedFile& file, const PipelineOptions& pipeline);

// The liveness check of a request: its `liveness`, else the server's default (serve --liveness);
// its threshold, else the server's. Throws Error(kInvalidArgument) for a threshold sent while the
// check is off.
LivenessCheck liveness_check(const ServerContext& context, const LivenessRequest& request);

// identify_image with the default rule and the gallery's saved threshold (or `threshold`),
// behind the liveness check when liveness_check(`liveness`) turns it on (a spoof is never named).
std::vector<IdentifiedFace> identify_upload(const ServerContext& context, const Loaded& loaded,
                                            const Image& image, const PipelineOptions& pipeline, std::size_t top_k,
                                            std::optional<float> threshold = std::nullopt,
                                            const LivenessRequest& liveness = {});

// The DeepStack and CompreFace recognize routes cannot ask for it per request: they keep the
// unnamed faces whenever the gallery's keep_unknown setting is on (docs/unknown-faces.md).
// Returns how many were kept.
std::size_t keep_unknown_if_enabled(const Loaded& loaded, const Image& image, const std::vector<IdentifiedFace>& faces,
                                    const UploadedFile& file);

// For the routes that run the networks: `handler` runs holding a place in the server's
// InferenceGate (HttpError 503 with Retry-After when the line is full).
Handler with_inference_slot(const ServerContext& context, Handler handler);

enum class Method { kGet, kPost, kPut, kDelete };

using RouteHandler = std::function<void(ServerContext&, const httplib::Request&, httplib::Response&)>;

// One row of an API's route table. A route that runs the networks waits for its place in the
// server's InferenceGate before its handler runs (with_inference_slot).
struct Route {
  Method method;
  std::string pattern;
  RouteHandler handler;
  bool runs_networks = false;
};

// Registers the routes in table order (httplib takes the first pattern that matches), each
// guarded() in `dialect`. `authorize`, when given, runs first: before the line for the networks.
using Authorize = void (*)(const ServerContext&, const httplib::Request&);
void add_routes(httplib::Server& server, ServerContext& context, Dialect dialect, const std::vector<Route>& routes,
                Authorize authorize = nullptr);

// Throws HttpError(401, message) unless no key is configured or `given` matches.
void check_key(const ServerContext& context, const std::string& given, const std::string& message);

// The native API's guard: an API key (x-api-key or Authorization: Bearer), else the web page's
// session cookie; a request that changes data (not GET/HEAD) on a cookie must also carry the
// session's CSRF token in X-Siamface-CSRF. Throws HttpError 401 (no or wrong key, no live session)
// or 403 (cookie without the right CSRF token). No key configured: everyone passes.
void authorize_native(const ServerContext& context, const httplib::Request& request);

// GET, HEAD and OPTIONS change nothing; everything else must pass the CSRF rules.
bool is_safe_method(const std::string& method);

// Integer-pixel box fields, clamped to the image.
nlohmann::json box_fields(const Box& box, int width, int height);

// Five points (eye centres, nose tip, mouth corners) from the 68 landmarks.
nlohmann::json five_points(const Face& face);

}  // namespace siamface::server

namespace siamface::server {

// Each API registers its routes (every handler wrapped by guarded()).
void add_native_routes(httplib::Server& server, ServerContext& context);
void add_deepstack_routes(httplib::Server& server, ServerContext& context);
void add_compreface_routes(httplib::Server& server, ServerContext& context);
// The web page at / and /assets/, /login, /logout, /session, and the rule (before routing) that
// refuses requests that change data from other sites (web_ui.cpp, docs/web-ui.md).
void add_web_routes(httplib::Server& server, ServerContext& context);
// The gallery management routes, GET /v1/people in both its forms among them (gallery_admin_api.cpp).
void add_gallery_admin_routes(httplib::Server& server, ServerContext& context);

}  // namespace siamface::server
