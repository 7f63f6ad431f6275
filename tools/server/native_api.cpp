// The native JSON API under /v1/ (see docs/http-api.md).
#include <nlohmann/json.hpp>

#include "common/json_codecs.hpp"
#include "server/api_common.hpp"
#include "util/sha256.hpp"

namespace siamface::server {
namespace {

using nlohmann::json;

// The request read once (parse_native_request), with the images of `image_fields` when it is JSON.
NativeRequest read_request(const httplib::Request& request, const std::vector<std::string>& image_fields) {
  return parse_native_request(request_fields(request), image_fields);
}

const UploadedFile& one_image(const NativeRequest& request) {
  const std::vector<UploadedFile>& files = request.images.value();
  if (files.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "no image: send multipart field 'image', JSON {\"image\":\"<base64>\"} or an image/* body");
  }
  if (files.size() > 1) throw Error(ErrorCode::kInvalidArgument, "expected one image, got " + std::to_string(files.size()));
  return files.front();
}

void detect(const ServerContext& context, const httplib::Request& http, httplib::Response& response, bool embed) {
  const auto loaded = context.require_loaded();
  const NativeRequest request = read_request(http, {"image"});
  const UploadedFile& file = one_image(request);
  const Image image = decode_upload(context, file.content);
  json faces = json::array();
  const PipelineOptions options = context.pipeline_options(request.min_score.value());
  if (embed) {
    for (const FaceEmbedding& f : loaded->engine.analyze(image, options)) {
      json out = tools::to_json(f.face, /*with_landmarks=*/true);
      out["embedding"] = tools::to_json(f.embedding);
      faces.push_back(std::move(out));
    }
  } else {
    for (const Face& face : loaded->engine.detect(image, options)) faces.push_back(tools::to_json(face, true));
  }
  write_json(response, {{"width", image.width}, {"height", image.height}, {"faces", faces}});
}

void detect_faces(const ServerContext& context, const httplib::Request& http, httplib::Response& response) {
  detect(context, http, response, /*embed=*/false);
}

void embed_faces(const ServerContext& context, const httplib::Request& http, httplib::Response& response) {
  detect(context, http, response, /*embed=*/true);
}

FaceEmbedding largest_face(const Loaded& loaded, const Image& image, const PipelineOptions& options,
                           const std::string& what) {
  const std::vector<FaceEmbedding> faces = loaded.engine.analyze(image, options);
  if (faces.empty()) throw Error(ErrorCode::kNoFace, "no face found in " + what);
  std::vector<Face> boxes;
  for (const FaceEmbedding& f : faces) boxes.push_back(f.face);
  return faces[loaded.engine.choose_subject(image, boxes, FaceChoice::kLargest, options)];
}

void verify(const ServerContext& context, const httplib::Request& http, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  const NativeRequest request = read_request(http, {"image1", "image2"});
  const std::vector<UploadedFile>& files = request.images.value();
  if (files.size() != 2) {
    throw Error(ErrorCode::kInvalidArgument,
                "verify needs exactly two images (fields image1 and image2), got " + std::to_string(files.size()));
  }
  const PipelineOptions options = context.pipeline_options(request.min_score.value());
  const FaceEmbedding a = largest_face(*loaded, decode_upload(context, files[0].content), options, "image1");
  const FaceEmbedding b = largest_face(*loaded, decode_upload(context, files[1].content), options, "image2");
  const std::optional<float> per_call = request.threshold.value();
  const float threshold = resolve_threshold(*loaded->gallery, per_call, IdentifyOptions::default_decision_rule().threshold,
                                            context.options().allow_looser_thresholds);
  const float distance = euclidean_distance(a.embedding, b.embedding);
  write_json(response, {{"distance", distance},
                        {"threshold", threshold},
                        {"same", distance < threshold},
                        {"confidence", distance_to_confidence(distance)},
                        {"face1", tools::to_json(a.face, false)},
                        {"face2", tools::to_json(b.face, false)}});
}

void identify(const ServerContext& context, const httplib::Request& http, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  const NativeRequest request = read_request(http, {"image"});
  const UploadedFile& file = one_image(request);
  const std::size_t top_k = request.top_k.value();
  const std::optional<float> threshold = request.threshold.value();
  const Image image = decode_upload(context, file.content);
  // keep_unknown=true records the unnamed faces, when the gallery's keep_unknown setting allows it.
  const bool keep_unknown = request.keep_unknown.value();
  if (keep_unknown && !loaded->gallery->unknown_policy().keep) {
    throw Error(ErrorCode::kInvalidArgument,
                "keep_unknown=true, but this gallery does not keep unknown faces: PUT /v1/settings {\"keep_unknown\": true}");
  }
  const LivenessRequest liveness = request.liveness.value();
  // attributes=age,gender,...: each face's analysis too (the liveness gate's verdict is reused).
  const std::optional<std::string> attribute_list = request.attributes.value();
  AnalyzeOptions analyze;
  if (attribute_list) analyze.attributes = AttributeSet::parse(*attribute_list);
  const LivenessCheck check = liveness_check(context, liveness);
  analyze.liveness_threshold = check.threshold;
  if (check.enabled) analyze.attributes.liveness = false;
  const std::vector<IdentifiedFace> identified = identify_upload(
      context, *loaded, image, context.pipeline_options(request.min_score.value()), top_k, threshold, liveness);
  json kept = nullptr;
  if (keep_unknown) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(file.content.data());
    const std::string sha = sha256_hex({data, file.content.size()});
    const std::string source = "http:" + (file.filename.empty() ? file.field : file.filename);
    const KeptUnknown k = keep_unknown_faces(*loaded->gallery, loaded->engine.model_info(), image, identified, source, sha, sha);
    kept = {{"kept", k.kept}, {"duplicates", k.duplicates}, {"low_quality", k.low_quality}};
  }
  json faces = json::array();
  for (const IdentifiedFace& face : identified) {
    json out = tools::to_json(face.face, /*with_landmarks=*/false);
    if (!analyze.attributes.empty()) out.update(tools::to_json(analyze_face(loaded->engine, image, face.face, analyze)));
    out["name"] = face.decision.person;
    out["known"] = face.decision.known;
    out["distance"] = face.decision.distance;
    out["threshold"] = face.decision.threshold;
    if (!face.decision.known) out["reason"] = to_string(face.decision.reason);
    if (!face.decision.runner_up.empty()) out["runner_up"] = face.decision.runner_up;
    if (face.liveness) out["liveness"] = tools::to_json(*face.liveness);
    out["top"] = json::array();
    for (const IdentityMatch& match : face.top) {
      out["top"].push_back({{"person", match.person}, {"distance", match.distance}, {"face_id", match.face_id}});
    }
    faces.push_back(std::move(out));
  }
  json body = {{"width", image.width}, {"height", image.height}, {"faces", faces}};
  if (keep_unknown) body["unknown"] = kept;
  write_json(response, body);
}

// POST /v1/analyze: every face with the attributes asked for (`attributes`, a comma list of
// age, gender, expression, liveness, pose; absent: all of them).
void analyze(const ServerContext& context, const httplib::Request& http, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  const NativeRequest request = read_request(http, {"image"});
  const UploadedFile& file = one_image(request);
  AnalyzeOptions options;
  const std::optional<std::string> attributes = request.attributes.value();
  options.attributes = attributes ? AttributeSet::parse(*attributes) : AttributeSet::all();
  options.liveness_threshold = request.liveness_threshold.value();
  options.pipeline = context.pipeline_options(request.min_score.value());
  const Image image = decode_upload(context, file.content);
  json faces = json::array();
  for (const FaceAnalysis& face : analyze_faces(loaded->engine, image, options)) faces.push_back(tools::to_json(face));
  write_json(response, {{"width", image.width}, {"height", image.height}, {"faces", faces}});
}

json face_summary(const GalleryFace& face) {
  return {{"id", face.id},
          {"person", face.person},
          {"source", face.source_path},
          {"image_sha256", face.image_sha256},
          {"box", tools::to_json(face.face.box)},
          {"created_unix_ms", face.created_unix_ms}};
}

void person_faces(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  const std::string person = request.matches[1];
  const std::vector<GalleryFace> faces = loaded->gallery->faces_of(person);
  if (faces.empty()) throw Error(ErrorCode::kNotFound, "no person named '" + person + "'");
  json out = json::array();
  for (const GalleryFace& f : faces) out.push_back(face_summary(f));
  write_json(response, {{"name", person}, {"faces", out}});
}

void add_person_faces(const ServerContext& context, const httplib::Request& http, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  const std::string person = http.matches[1];
  check_person_name(person);
  const NativeRequest request = read_request(http, {"image", "images"});
  const std::vector<UploadedFile>& files = request.images.value();
  if (files.empty()) throw Error(ErrorCode::kInvalidArgument, "no image files in the request");
  std::vector<GalleryFace> records;
  std::vector<std::string> record_files;
  json skipped = json::array();
  for (const UploadedFile& file : files) {
    const std::string name = file.filename.empty() ? file.field : file.filename;
    try {
      records.push_back(prepare_upload(context, *loaded, person, file, context.pipeline_options()));
      record_files.push_back(name);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNoFace && e.code() != ErrorCode::kInvalidImage) throw;
      skipped.push_back({{"file", name}, {"reason", e.what()}});
    }
  }
  if (records.empty()) throw Error(ErrorCode::kNoFace, "no face found in any uploaded image");
  // One transaction: the request's faces are stored together or not at all.
  const std::vector<AddOutcome> outcomes = loaded->gallery->add_faces(records);
  json added = json::array();
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    json item = {{"file", record_files[i]}, {"face_id", outcomes[i].face_id},
                 {"status", outcomes[i].status == AddStatus::kAdded ? "added" : "duplicate"}};
    // A photo's face is stored once, under one person: say who has it when that is someone else.
    if (outcomes[i].status == AddStatus::kDuplicate) {
      item["enrolled_as"] = outcomes[i].person;
      if (outcomes[i].person != person) item["reason"] = "already enrolled as " + outcomes[i].person;
    }
    added.push_back(std::move(item));
  }
  write_json(response, {{"person", person}, {"added", added}, {"skipped", skipped}});
}

void delete_person(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  const std::string person = request.matches[1];
  const std::size_t removed = loaded->gallery->remove_person(person);
  write_json(response, {{"person", person}, {"deleted", removed}});
}

void rename_person(const ServerContext& context, const httplib::Request& http, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  const std::string from = http.matches[1];
  const std::optional<std::string> to = read_request(http, {}).name.value();
  if (!to) throw Error(ErrorCode::kInvalidArgument, "rename needs the new name: JSON {\"name\":\"NEW\"}");
  check_person_name(*to);
  const std::size_t moved = loaded->gallery->rename_person(from, *to);
  write_json(response, {{"from", from}, {"to", *to}, {"moved", moved}});
}

void delete_face(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  const std::string id = request.matches[1];
  const auto face = loaded->gallery->face(id);
  if (!face) throw Error(ErrorCode::kNotFound, "no face with id '" + id + "'");
  loaded->gallery->remove_face(id);
  write_json(response, {{"face_id", id}, {"person", face->person}, {"deleted", true}});
}

}  // namespace

// GET /v1/people, in both its forms, is gallery_admin_api.cpp's.
void add_native_routes(httplib::Server& server, ServerContext& context) {
  // Authorised first, then in line for the networks (the routes that run them).
  add_routes(server, context, Dialect::kNative,
             {
                 {Method::kPost, "/v1/detect", detect_faces, /*runs_networks=*/true},
                 {Method::kPost, "/v1/embed", embed_faces, true},
                 {Method::kPost, "/v1/verify", verify, true},
                 {Method::kPost, "/v1/identify", identify, true},
                 {Method::kPost, "/v1/analyze", analyze, true},
                 {Method::kGet, R"(/v1/people/([^/]+))", person_faces},
                 {Method::kPost, R"(/v1/people/([^/]+)/faces)", add_person_faces, true},
                 {Method::kDelete, R"(/v1/people/([^/]+))", delete_person},
                 {Method::kPut, R"(/v1/people/([^/]+))", rename_person},
                 {Method::kDelete, R"(/v1/faces/([^/]+))", delete_face},
             },
             authorize_native);
}

}  // namespace siamface::server
