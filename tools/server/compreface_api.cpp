// CompreFace-compatible recognition API (subset) under /api/v1/.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/json_codecs.hpp"
#include "server/api_common.hpp"
#include "siamface/analysis.hpp"

namespace siamface::server {
namespace {

using nlohmann::json;

const char* const kSubjects = "/api/v1/recognition/subjects";
const char* const kFaces = "/api/v1/recognition/faces";

std::shared_ptr<const Loaded> begin(const ServerContext& context, const httplib::Request& request) {
  check_key(context, request.get_header_value("x-api-key"), "Missing or incorrect x-api-key header");
  return context.require_loaded();
}

bool is_json(const httplib::Request& request) { return is_json_content(request.get_header_value("Content-Type")); }

json body_json(const httplib::Request& request) {
  json body = json::parse(request.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) throw HttpError(400, "request body is not a JSON object", 26);
  return body;
}

// The files of a request, read once: a JSON object of base64 strings, or a multipart form.
struct Uploads {
  std::optional<json> body;  // for an application/json request
  FormData form;             // otherwise
};

Uploads read_uploads(const httplib::Request& request) {
  if (is_json(request)) return {body_json(request), {}};
  return {std::nullopt, read_form(request, {})};
}

// A file sent as multipart `field` or as JSON {"field":"<base64>"}.
UploadedFile image_of(const Uploads& uploads, const std::string& field) {
  if (uploads.body) {
    const json& body = *uploads.body;
    if (!body.contains(field) || !body[field].is_string()) {
      throw HttpError(400, "JSON field '" + field + "' (base64 image) is missing", 26);
    }
    return {field, field, "", decode_base64(body[field].get_ref<const std::string&>(), "JSON field '" + field + "'")};
  }
  if (const UploadedFile* file = uploads.form.file(field)) return *file;
  throw HttpError(400, "Required request part '" + field + "' is not present", 26);
}

std::optional<std::string> query(const httplib::Request& request, const char* name) {
  if (!request.has_param(name)) return std::nullopt;
  return request.get_param_value(name);
}

float det_threshold(const httplib::Request& request) {
  return parse_det_prob_threshold(query(request, "det_prob_threshold"));
}

json box_json(const Face& face, const Image& image) {
  json box = box_fields(face.box, image.width, image.height);
  box["probability"] = face.score;
  return box;
}

FacePlugins plugins_of(const httplib::Request& request) { return parse_face_plugins(query(request, "face_plugins")); }

// The liveness gate of a recognize request: liveness=true in the query, or the "liveness" plugin.
LivenessRequest liveness_of(const httplib::Request& request, const FacePlugins& plugins) {
  LivenessRequest liveness = parse_liveness_request(query(request, "liveness"), query(request, "liveness_threshold"));
  if (plugins.liveness) liveness.asked = true;
  return liveness;
}

// Half the width of the "age" plugin's range: face-api's age net gives years, CompreFace a
// range; its published error is near this (docs/http-api.md, "Face plugins").
constexpr int kAgeRangeHalfYears = 5;

// The face plugins' fields of one face, in CompreFace's shapes. `embedding`: the face's, for
// "calculator"; `liveness`: the gate's verdict when it ran (else the plugin judges it here).
// An attribute a face is too small for is null, with "too_small": true.
void add_plugin_fields(json& item, const FacePlugins& plugins, const Engine& engine, const Image& image,
                       const Face& face, const Embedding* embedding, std::optional<LivenessEstimate> liveness) {
  if (plugins.landmarks) item["landmarks"] = five_points(face);
  if (plugins.calculator && embedding != nullptr) item["embedding"] = std::vector<float>(embedding->begin(), embedding->end());
  AnalyzeOptions options;
  options.attributes.age = plugins.age;
  options.attributes.gender = plugins.gender;
  options.attributes.pose = plugins.pose;
  options.attributes.liveness = plugins.liveness && !liveness;
  if (!options.attributes.empty()) {
    const FaceAnalysis analysis = analyze_face(engine, image, face, options);
    if (plugins.age) {
      item["age"] = nullptr;
      if (analysis.age) {
        // face-api's age net is a regression: it gives no probability.
        const int years = static_cast<int>(std::lround(*analysis.age));
        item["age"] = {{"probability", nullptr},
                       {"high", years + kAgeRangeHalfYears},
                       {"low", std::max(0, years - kAgeRangeHalfYears)},
                       {"value", years}};
      }
    }
    if (plugins.gender) {
      item["gender"] = nullptr;
      if (analysis.gender) item["gender"] = {{"probability", analysis.gender->probability}, {"value", analysis.gender->value}};
    }
    if (plugins.pose && analysis.pose) {
      item["pose"] = {{"pitch", analysis.pose->pitch}, {"roll", analysis.pose->roll}, {"yaw", analysis.pose->yaw}};
    }
    if (analysis.too_small) item["too_small"] = true;
    if (!liveness) liveness = analysis.liveness;
  }
  if (plugins.liveness) item["liveness"] = liveness ? tools::to_json(*liveness) : json(nullptr);
}

// Each face of `image` with its similarity to `reference` and its plugin fields, most similar first.
json matches_of(const Embedding& reference, const std::vector<FaceEmbedding>& faces, const Image& image,
                const FacePlugins& plugins, const Engine& engine) {
  std::vector<std::pair<float, json>> matches;
  for (const FaceEmbedding& f : faces) {
    if (f.embedding.size() != reference.size()) {
      throw Error(ErrorCode::kModelMismatch, "the saved face was made by another recognizer (" +
                                                 std::to_string(reference.size()) + " values, this server makes " +
                                                 std::to_string(f.embedding.size()) + "): siamface reindex");
    }
    const float similarity = distance_to_confidence(euclidean_distance(reference, f.embedding));
    json match = {{"box", box_json(f.face, image)}, {"similarity", similarity}};
    add_plugin_fields(match, plugins, engine, image, f.face, &f.embedding, std::nullopt);
    matches.emplace_back(similarity, std::move(match));
  }
  std::stable_sort(matches.begin(), matches.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  json result = json::array();
  for (auto& m : matches) result.push_back(std::move(m.second));
  return result;
}

std::string subject_from_body(const httplib::Request& request) {
  const json body = body_json(request);
  if (!body.contains("subject") || !body["subject"].is_string()) {
    throw HttpError(400, "JSON field 'subject' is missing", 26);
  }
  std::string subject = body["subject"].get<std::string>();
  check_person_name(subject);
  return subject;
}

std::vector<std::string> subjects(ServerContext& context, const Loaded& loaded) {
  std::set<std::string> names;
  for (const PersonSummary& p : loaded.gallery->people()) names.insert(p.person);
  std::lock_guard lock(context.subjects_mutex);
  names.insert(context.empty_subjects.begin(), context.empty_subjects.end());
  return {names.begin(), names.end()};
}

void recognize(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const UploadedFile file = image_of(read_uploads(request), "file");
  const int limit = parse_face_limit(query(request, "limit"));
  const std::size_t count = parse_prediction_count(query(request, "prediction_count"));
  const FacePlugins plugins = plugins_of(request);
  const LivenessRequest liveness = liveness_of(request, plugins);
  const Image image = decode_upload(context, file.content);
  const auto faces = identify_upload(context, *loaded, image, context.pipeline_options(det_threshold(request), limit), count,
                                     std::nullopt, liveness);
  if (faces.empty()) throw Error(ErrorCode::kNoFace, "no face found");
  keep_unknown_if_enabled(*loaded, image, faces, file);
  json result = json::array();
  for (const IdentifiedFace& face : faces) {
    json subjects_json = json::array();
    const bool gated = face.decision.reason == UnknownReason::kSpoof || face.decision.reason == UnknownReason::kLivenessUnchecked;
    if (gated) {
      // A spoof, or a face too small to judge, lists nobody: a client's own cut must not name it.
    } else if (context.options().allow_looser_thresholds) {
      for (std::size_t i = 0; i < face.top.size() && i < count; ++i) {
        subjects_json.push_back({{"subject", face.top[i].person}, {"similarity", distance_to_confidence(face.top[i].distance)}});
      }
    } else if (face.decision.known) {
      // CompreFace's clients name a face by its first subject's similarity against their own
      // cut (Double Take: 60 %), so a stranger's nearest subject is not listed at all: the
      // decision is siamface's (issue 31). An unknown face has no subjects.
      subjects_json.push_back({{"subject", face.decision.person}, {"similarity", distance_to_confidence(face.decision.distance)}});
    }
    json item = {{"box", box_json(face.face, image)}, {"subjects", subjects_json}};
    add_plugin_fields(item, plugins, loaded->engine, image, face.face, &face.embedding, face.liveness);
    // The gate's verdict is shown whenever it ran, asked as a plugin or as liveness=true.
    if (face.liveness && !item.contains("liveness")) {
      item["liveness"] = face.liveness ? tools::to_json(*face.liveness) : json(nullptr);
    }
    result.push_back(std::move(item));
  }
  write_json(response, {{"result", result}});
}

void verify(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const Uploads uploads = read_uploads(request);
  const UploadedFile source_file = image_of(uploads, "source_image");
  const UploadedFile target_file = image_of(uploads, "target_image");
  const float det = det_threshold(request);
  const int limit = parse_face_limit(query(request, "limit"));
  const FacePlugins plugins = plugins_of(request);
  const Image source = decode_upload(context, source_file.content);
  const Image target = decode_upload(context, target_file.content);
  const std::vector<FaceEmbedding> source_faces = loaded->engine.analyze(source, context.pipeline_options(det));
  if (source_faces.empty()) throw Error(ErrorCode::kNoFace, "no face found in source_image");
  std::vector<Face> boxes;
  for (const FaceEmbedding& f : source_faces) boxes.push_back(f.face);
  const FaceEmbedding& chosen =
      source_faces[loaded->engine.choose_subject(source, boxes, FaceChoice::kLargest, context.pipeline_options(det))];
  const std::vector<FaceEmbedding> target_faces = loaded->engine.analyze(target, context.pipeline_options(det, limit));
  if (target_faces.empty()) throw Error(ErrorCode::kNoFace, "no face found in target_image");
  const json face_matches = matches_of(chosen.embedding, target_faces, target, plugins, loaded->engine);
  json source_face = {{"box", box_json(chosen.face, source)}};
  add_plugin_fields(source_face, plugins, loaded->engine, source, chosen.face, &chosen.embedding, std::nullopt);
  write_json(response, {{"result", json::array({{{"source_image_face", source_face}, {"face_matches", face_matches}}})}});
}

// The detection service: every face (the biggest first up to `limit`) with the plugins asked for.
void detect(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const UploadedFile file = image_of(read_uploads(request), "file");
  const int limit = parse_face_limit(query(request, "limit"));
  const FacePlugins plugins = plugins_of(request);
  const Image image = decode_upload(context, file.content);
  const PipelineOptions pipeline = context.pipeline_options(det_threshold(request), limit);
  json result = json::array();
  if (plugins.calculator) {
    for (const FaceEmbedding& f : loaded->engine.analyze(image, pipeline)) {
      json item = {{"box", box_json(f.face, image)}};
      add_plugin_fields(item, plugins, loaded->engine, image, f.face, &f.embedding, std::nullopt);
      result.push_back(std::move(item));
    }
  } else {
    for (const Face& face : loaded->engine.detect(image, pipeline)) {
      json item = {{"box", box_json(face, image)}};
      add_plugin_fields(item, plugins, loaded->engine, image, face, nullptr, std::nullopt);
      result.push_back(std::move(item));
    }
  }
  if (result.empty()) throw Error(ErrorCode::kNoFace, "no face found");
  write_json(response, {{"result", result}});
}

// Verify against a saved face (the face collection): each face of `file` with its similarity to
// the face `image_id`, the most similar first.
void verify_saved_face(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const std::string id = request.matches[1];
  const int limit = parse_face_limit(query(request, "limit"));
  const FacePlugins plugins = plugins_of(request);
  const auto saved = loaded->gallery->face(id);
  if (!saved) throw HttpError(404, "Face with id '" + id + "' not found", 35);
  const UploadedFile file = image_of(read_uploads(request), "file");
  const Image image = decode_upload(context, file.content);
  const std::vector<FaceEmbedding> faces = loaded->engine.analyze(image, context.pipeline_options(det_threshold(request), limit));
  if (faces.empty()) throw Error(ErrorCode::kNoFace, "no face found");
  write_json(response, {{"result", matches_of(saved->embedding, faces, image, plugins, loaded->engine)}});
}

void add_subject(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const std::string subject = subject_from_body(request);
  const auto names = subjects(context, *loaded);
  if (std::find(names.begin(), names.end(), subject) != names.end()) {
    throw HttpError(400, "Subject '" + subject + "' already exists", 43);
  }
  {
    std::lock_guard lock(context.subjects_mutex);
    context.empty_subjects.insert(subject);
  }
  write_json(response, {{"subject", subject}}, 201);
}

void list_subjects(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  write_json(response, {{"subjects", subjects(context, *loaded)}});
}

void rename_subject(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const std::string from = request.matches[1];
  const std::string to = subject_from_body(request);
  bool found = false;
  {
    std::lock_guard lock(context.subjects_mutex);
    if (context.empty_subjects.erase(from) > 0) {
      found = true;
      if (loaded->gallery->faces_of(to).empty()) context.empty_subjects.insert(to);
    }
  }
  if (!loaded->gallery->faces_of(from).empty()) {
    loaded->gallery->rename_person(from, to);  // merges into an existing subject
    std::lock_guard lock(context.subjects_mutex);
    context.empty_subjects.erase(to);
    found = true;
  }
  if (!found) throw HttpError(404, "Subject '" + from + "' not found", 34);
  write_json(response, {{"updated", true}});
}

void delete_subject(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const std::string subject = request.matches[1];
  bool found = false;
  {
    std::lock_guard lock(context.subjects_mutex);
    found = context.empty_subjects.erase(subject) > 0;
  }
  if (!loaded->gallery->faces_of(subject).empty()) {
    loaded->gallery->remove_person(subject);
    found = true;
  }
  if (!found) throw HttpError(404, "Subject '" + subject + "' not found", 34);
  write_json(response, {{"subject", subject}});
}

void delete_all_subjects(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const std::size_t count = subjects(context, *loaded).size();
  {
    std::lock_guard lock(context.subjects_mutex);
    context.empty_subjects.clear();
  }
  loaded->gallery->remove_all();
  write_json(response, {{"deleted", count}});
}

void add_face(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const std::string subject = request.has_param("subject") ? request.get_param_value("subject") : "";
  if (subject.empty()) throw HttpError(400, "Required request parameter 'subject' is not present", 26);
  const UploadedFile file = image_of(read_uploads(request), "file");
  const AddOutcome outcome = enroll_upload(context, *loaded, subject, file, context.pipeline_options(det_threshold(request)));
  // A photo's face is stored once, under one subject: another subject's face is not saved again.
  if (outcome.person != subject) {
    throw HttpError(400, "this face is already saved for subject '" + outcome.person + "' (image_id " +
                             outcome.face_id + ")");
  }
  {
    std::lock_guard lock(context.subjects_mutex);
    context.empty_subjects.erase(subject);
  }
  write_json(response, {{"image_id", outcome.face_id}, {"subject", subject}}, 201);
}

void list_faces(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const auto [page, size] = parse_page_request(query(request, "page"), query(request, "size"));
  const std::string only = request.has_param("subject") ? request.get_param_value("subject") : "";
  std::vector<std::pair<std::string, std::string>> all;  // (image_id, subject)
  for (const PersonSummary& p : loaded->gallery->people()) {
    if (!only.empty() && p.person != only) continue;
    for (const GalleryFace& f : loaded->gallery->faces_of(p.person)) all.emplace_back(f.id, f.person);
  }
  json faces = json::array();
  const auto total = static_cast<std::int64_t>(all.size());
  for (std::int64_t i = page * size; i < std::min(total, (page + 1) * size); ++i) {
    faces.push_back({{"image_id", all[i].first}, {"subject", all[i].second}});
  }
  write_json(response, {{"faces", faces},
                        {"page_number", page},
                        {"page_size", size},
                        {"total_pages", (total + size - 1) / size},
                        {"total_elements", total}});
}

void delete_faces_of_subject(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const std::string subject = request.has_param("subject") ? request.get_param_value("subject") : "";
  if (subject.empty()) throw HttpError(400, "Required request parameter 'subject' is not present", 26);
  std::size_t deleted = 0;
  if (!loaded->gallery->faces_of(subject).empty()) deleted = loaded->gallery->remove_person(subject);
  write_json(response, {{"deleted", deleted}});
}

void delete_face(ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = begin(context, request);
  const std::string id = request.matches[1];
  const auto face = loaded->gallery->face(id);
  if (!face) throw HttpError(404, "Face with id '" + id + "' not found", 35);
  loaded->gallery->remove_face(id);
  write_json(response, {{"image_id", id}, {"subject", face->person}});
}

}  // namespace

// Each handler checks the API key itself (begin), after any wait for the networks.
void add_compreface_routes(httplib::Server& server, ServerContext& context) {
  const std::string subject = std::string(kSubjects) + "/([^/]+)";
  add_routes(server, context, Dialect::kCompreFace,
             {
                 {Method::kPost, "/api/v1/recognition/recognize", recognize, /*runs_networks=*/true},
                 {Method::kPost, "/api/v1/verification/verify", verify, true},
                 {Method::kPost, "/api/v1/detection/detect", detect, true},
                 {Method::kPost, std::string(kFaces) + "/([^/]+)/verify", verify_saved_face, true},
                 {Method::kPost, kSubjects, add_subject},
                 {Method::kGet, kSubjects, list_subjects},
                 {Method::kGet, std::string(kSubjects) + "/", list_subjects},
                 {Method::kPut, subject, rename_subject},
                 {Method::kDelete, subject, delete_subject},
                 {Method::kDelete, kSubjects, delete_all_subjects},
                 {Method::kDelete, std::string(kSubjects) + "/", delete_all_subjects},
                 {Method::kPost, kFaces, add_face, true},
                 {Method::kGet, kFaces, list_faces},
                 {Method::kDelete, kFaces, delete_faces_of_subject},
                 {Method::kDelete, std::string(kFaces) + "/([^/]+)", delete_face},
             });
}

}  // namespace siamface::server
