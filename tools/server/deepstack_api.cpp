// DeepStack-compatible face endpoints under /v1/vision/ (POST, multipart/form-data).
#include <nlohmann/json.hpp>

#include "common/json_codecs.hpp"
#include "server/api_common.hpp"

namespace siamface::server {
namespace {

using nlohmann::json;

struct DeepStackRequest {
  FormData form;
  std::shared_ptr<const Loaded> loaded;
};

// Auth first (no models needed), then the loaded state.
DeepStackRequest begin(const ServerContext& context, const httplib::Request& request, bool need_models = true) {
  DeepStackRequest out;
  out.form = read_form(request, kDeepStackTextFields);
  check_key(context, param(request, out.form, "api_key").value_or(""), "Incorrect api key");
  if (need_models) out.loaded = context.require_loaded();
  return out;
}

const UploadedFile& image_field(const FormData& form) {
  if (const UploadedFile* file = form.file("image")) return *file;
  if (!form.files.empty()) return form.files.front();
  throw HttpError(400, "No valid image file found");
}

std::optional<float> min_confidence(const httplib::Request& request, const FormData& form) {
  return parse_min_confidence(param(request, form, "min_confidence"));
}

void reg(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const DeepStackRequest r = begin(context, request);
  const auto userid = param(request, r.form, "userid");
  if (!userid || userid->empty()) throw HttpError(400, "userid not specified");
  if (r.form.files.empty()) throw HttpError(400, "No valid image file found");
  std::vector<GalleryFace> records;
  for (const UploadedFile& file : r.form.files) {
    try {
      records.push_back(prepare_upload(context, *r.loaded, *userid, file, context.pipeline_options()));
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNoFace) throw;
    }
  }
  if (records.empty()) throw HttpError(400, "no face detected");
  // One transaction: the request's faces are stored together or not at all (added or already
  // present: both leave the face registered). A face the gallery holds under another userid is
  // not registered twice (a photo's face is stored once, under one person): when that is every
  // face of the request, the answer says so instead of "face added".
  std::string held_by;
  bool registered = false;
  for (const AddOutcome& o : r.loaded->gallery->add_faces(records)) {
    if (o.person == *userid) {
      registered = true;
    } else if (held_by.empty()) {
      held_by = o.person;
    }
  }
  if (!registered) throw HttpError(400, "face already registered as userid '" + held_by + "'");
  write_json(response, {{"success", true}, {"message", "face added"}});
}

void recognize(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const DeepStackRequest r = begin(context, request);
  const std::optional<float> min_conf = min_confidence(request, r.form);
  const UploadedFile& file = image_field(r.form);
  const Image image = decode_upload(context, file.content);
  // An explicit min_confidence becomes the decision threshold (through the inverse mapping)
  // when it is stricter than the gallery's: Home Assistant's client always sends 0.45, a
  // distance of 0.69, which must not loosen the gallery's 0.6 (resolve_threshold).
  std::optional<float> threshold;
  if (min_conf) threshold = confidence_to_distance(*min_conf);
  // liveness=true (a form field): a face judged a spoof comes back "unknown", marked.
  const LivenessRequest liveness =
      parse_liveness_request(param(request, r.form, "liveness"), param(request, r.form, "liveness_threshold"));
  json predictions = json::array();
  const std::vector<IdentifiedFace> identified =
      identify_upload(context, *r.loaded, image, context.pipeline_options(), 3, threshold, liveness);
  keep_unknown_if_enabled(*r.loaded, image, identified, file);
  for (const IdentifiedFace& face : identified) {
    json p = box_fields(face.face.box, image.width, image.height);
    const float confidence = distance_to_confidence(face.decision.distance);
    const bool accepted = face.decision.known && (!min_conf || confidence >= *min_conf);
    p["userid"] = accepted ? face.decision.person : std::string(kUnknownPerson);
    p["confidence"] = accepted ? confidence : 0.0F;
    if (face.liveness) p["liveness"] = tools::to_json(*face.liveness);
    predictions.push_back(std::move(p));
  }
  write_json(response, {{"success", true}, {"predictions", predictions}});
}

void detect(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const DeepStackRequest r = begin(context, request);
  const float min_conf = min_confidence(request, r.form).value_or(0.55F);
  const Image image = decode_upload(context, image_field(r.form).content);
  json predictions = json::array();
  for (const Face& face : r.loaded->engine.detect(image, context.pipeline_options(min_conf))) {
    json p = box_fields(face.box, image.width, image.height);
    p["confidence"] = face.score;
    predictions.push_back(std::move(p));
  }
  write_json(response, {{"success", true}, {"predictions", predictions}});
}

void match(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const DeepStackRequest r = begin(context, request);
  if (r.form.files.empty()) throw HttpError(400, "No valid image file found");
  if (r.form.files.size() == 1) throw HttpError(400, "expected two image files, only one found");
  if (r.form.files.size() > 2) throw HttpError(400, "only two images allowed");
  Embedding embeddings[2];
  for (int i = 0; i < 2; ++i) {
    const Image image = decode_upload(context, r.form.files[i].content);
    const std::vector<FaceEmbedding> faces = r.loaded->engine.analyze(image, context.pipeline_options());
    if (faces.empty()) throw HttpError(400, "no face found");
    std::vector<Face> boxes;
    for (const FaceEmbedding& f : faces) boxes.push_back(f.face);
    embeddings[i] = faces[r.loaded->engine.choose_subject(image, boxes, FaceChoice::kLargest, context.pipeline_options())].embedding;
  }
  write_json(response, {{"success", true}, {"similarity", distance_to_confidence(euclidean_distance(embeddings[0], embeddings[1]))}});
}

void list_faces(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const DeepStackRequest r = begin(context, request);
  json names = json::array();
  for (const PersonSummary& p : r.loaded->gallery->people()) names.push_back(p.person);
  write_json(response, {{"success", true}, {"faces", names}});
}

void delete_face(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const DeepStackRequest r = begin(context, request);
  const auto userid = param(request, r.form, "userid");
  if (!userid || userid->empty()) throw HttpError(400, "userid not specified");
  try {
    r.loaded->gallery->remove_person(*userid);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;  // DeepStack answers success for unknown users
  }
  write_json(response, {{"success", true}});
}

}  // namespace

// Each handler checks the API key itself (begin), after any wait for the networks.
void add_deepstack_routes(httplib::Server& server, ServerContext& context) {
  add_routes(server, context, Dialect::kDeepStack,
             {
                 {Method::kPost, "/v1/vision/face/register", reg, /*runs_networks=*/true},
                 {Method::kPost, "/v1/vision/face/recognize", recognize, true},
                 {Method::kPost, "/v1/vision/face", detect, true},
                 {Method::kPost, "/v1/vision/face/match", match, true},
                 {Method::kPost, "/v1/vision/face/list", list_faces},
                 {Method::kPost, "/v1/vision/face/delete", delete_face},
             });
}

}  // namespace siamface::server
