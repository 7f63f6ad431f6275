// The gallery management routes of the native API (issue 20; docs/http-api.md and
// docs/unknown-faces.md): paged people and faces with thumbnails, corrections (not, merge,
// split), unknown faces and their clusters, settings and the calibration plot.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>

#include "server/api_common.hpp"

namespace siamface::server {
namespace {

using nlohmann::json;

constexpr std::int64_t kDefaultLimit = 50;
constexpr std::int64_t kMaxLimit = 500;

struct Page {
  std::int64_t offset = 0;
  std::int64_t limit = kDefaultLimit;
};

Page page_of(const httplib::Request& request) {
  Page page;
  if (request.has_param("offset")) page.offset = parse_int_param("offset", request.get_param_value("offset"), 0, 1'000'000'000);
  if (request.has_param("limit")) page.limit = parse_int_param("limit", request.get_param_value("limit"), 1, kMaxLimit);
  return page;
}

json page_json(std::int64_t total, const Page& page, json items) {
  return {{"total", total}, {"offset", page.offset}, {"items", std::move(items)}};
}

json unknown_json(const UnknownFace& u) {
  return {{"id", u.face.id},
          {"source", u.face.source_path},
          {"time", u.face.created_unix_ms},
          {"quality", u.quality},
          {"cluster", u.cluster ? json(*u.cluster) : json(nullptr)},
          {"thumbnail", "/v1/unknown/" + u.face.id + "/thumbnail"}};
}

std::int64_t cluster_id_of(const std::string& text) {
  return parse_int_param("cluster id", text, 1, std::numeric_limits<std::int64_t>::max());
}

// A JSON string field that must be present.
std::string required_string(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || !it->is_string()) {
    throw Error(ErrorCode::kInvalidArgument, std::string("JSON field '") + name + "' (a string) is required");
  }
  return it->get<std::string>();
}

std::vector<std::string> string_list(const json& body, const char* name, bool required) {
  const auto it = body.find(name);
  if (it == body.end()) {
    if (required) throw Error(ErrorCode::kInvalidArgument, std::string("JSON field '") + name + "' (a list of ids) is required");
    return {};
  }
  if (!it->is_array()) throw Error(ErrorCode::kInvalidArgument, std::string("JSON field '") + name + "' must be a list of ids");
  std::vector<std::string> out;
  for (const json& v : *it) {
    if (!v.is_string()) throw Error(ErrorCode::kInvalidArgument, std::string("JSON field '") + name + "' must hold strings");
    out.push_back(v.get<std::string>());
  }
  return out;
}

void write_jpeg(httplib::Response& response, const std::optional<std::vector<std::uint8_t>>& jpeg, const std::string& what) {
  if (!jpeg || jpeg->empty()) throw Error(ErrorCode::kNotFound, "no thumbnail for " + what);
  response.set_header("Cache-Control", "private, max-age=3600");
  response.set_content(std::string(jpeg->begin(), jpeg->end()), "image/jpeg");
}

json settings_json(const Gallery& gallery) {
  const UnknownPolicy policy = gallery.unknown_policy();
  const float threshold = resolve_threshold(gallery, std::nullopt, IdentifyOptions::default_decision_rule().threshold);
  return {{"threshold", threshold},
          {"keep_unknown", policy.keep},
          {"unknown_max_faces", policy.max_faces},
          {"unknown_max_age_days", policy.max_age_days}};
}

// Same-person and different-person distances among the gallery's own faces (at most
// kCalibrationFaces of them, so a large gallery still answers quickly).
constexpr std::size_t kCalibrationFaces = 1500;

std::string calibration_svg(const Gallery& gallery) {
  std::vector<std::pair<std::string, std::vector<Embedding>>> people;
  std::size_t taken = 0;
  std::size_t with_two = 0;
  for (const PersonSummary& p : gallery.people()) {
    if (taken >= kCalibrationFaces) break;
    std::vector<Embedding> embeddings;
    for (GalleryFace& f : gallery.faces_of(p.person)) {
      if (taken >= kCalibrationFaces) break;
      embeddings.push_back(std::move(f.embedding));
      ++taken;
    }
    if (embeddings.size() >= 2) ++with_two;
    people.emplace_back(p.person, std::move(embeddings));
  }
  if (with_two < 2) {
    throw Error(ErrorCode::kNotFound,
                "the calibration plot needs at least 2 people with 2 or more faces each; this gallery has " +
                    std::to_string(with_two));
  }
  std::vector<float> same, different;
  for (std::size_t a = 0; a < people.size(); ++a) {
    const auto& ea = people[a].second;
    for (std::size_t i = 0; i < ea.size(); ++i) {
      for (std::size_t j = i + 1; j < ea.size(); ++j) same.push_back(euclidean_distance(ea[i], ea[j]));
      for (std::size_t b = a + 1; b < people.size(); ++b) {
        for (const Embedding& e : people[b].second) different.push_back(euclidean_distance(ea[i], e));
      }
    }
  }
  const float threshold = resolve_threshold(gallery, std::nullopt, IdentifyOptions::default_decision_rule().threshold);
  constexpr int kBins = 40;
  constexpr double kMax = 1.2;
  auto histogram = [&](const std::vector<float>& values) {
    std::vector<double> bins(kBins, 0.0);
    for (float v : values) bins[std::clamp(static_cast<int>(v / kMax * kBins), 0, kBins - 1)] += 1.0;
    for (double& b : bins) b /= std::max<std::size_t>(values.size(), 1);
    return bins;
  };
  const auto hs = histogram(same), hd = histogram(different);
  const double peak = std::max(*std::max_element(hs.begin(), hs.end()), *std::max_element(hd.begin(), hd.end()));
  constexpr int kW = 640, kH = 320, kLeft = 40, kBottom = 290, kTop = 30, kPlotW = 580;
  std::ostringstream svg;
  svg << std::fixed << std::setprecision(1);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kW << "\" height=\"" << kH << "\" viewBox=\"0 0 " << kW
      << ' ' << kH << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg << "<title>Distances between this gallery's faces</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
  auto bars = [&](const std::vector<double>& h, const char* colour) {
    const double w = static_cast<double>(kPlotW) / kBins;
    for (int i = 0; i < kBins; ++i) {
      const double height = peak > 0 ? h[i] / peak * (kBottom - kTop) : 0;
      svg << "<rect x=\"" << kLeft + i * w << "\" y=\"" << kBottom - height << "\" width=\"" << w << "\" height=\""
          << height << "\" fill=\"" << colour << "\" fill-opacity=\"0.5\"/>\n";
    }
  };
  bars(hs, "#2a9d3a");
  bars(hd, "#d62728");
  const double tx = kLeft + std::min(threshold / kMax, 1.0) * kPlotW;
  svg << "<line x1=\"" << tx << "\" y1=\"" << kTop << "\" x2=\"" << tx << "\" y2=\"" << kBottom
      << "\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>\n";
  svg << "<text x=\"" << tx + 4 << "\" y=\"" << kTop + 12 << "\">threshold " << std::setprecision(2) << threshold
      << "</text>\n";
  svg << "<line x1=\"" << kLeft << "\" y1=\"" << kBottom << "\" x2=\"" << kLeft + kPlotW << "\" y2=\"" << kBottom
      << "\" stroke=\"#000\"/>\n";
  for (int t = 0; t <= 6; ++t) {
    const double x = kLeft + t / 6.0 * kPlotW;
    svg << "<text x=\"" << x << "\" y=\"" << kBottom + 16 << "\" text-anchor=\"middle\">" << std::setprecision(1)
        << t * kMax / 6 << "</text>\n";
  }
  svg << "<text x=\"" << kLeft << "\" y=\"18\" fill=\"#2a9d3a\">same person (" << same.size()
      << " pairs)</text>\n<text x=\"" << kLeft + 220 << "\" y=\"18\" fill=\"#d62728\">different people ("
      << different.size() << " pairs)</text>\n</svg>\n";
  return svg.str();
}

// The paged form when offset or limit is given, the original {"people": [...]} otherwise (older
// clients).
void list_people(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  if (!request.has_param("offset") && !request.has_param("limit")) {
    json people = json::array();
    for (const PersonSummary& p : loaded->gallery->people()) people.push_back({{"name", p.person}, {"faces", p.face_count}});
    write_json(response, {{"people", people}});
    return;
  }
  const Page page = page_of(request);
  const auto [total, items] = loaded->gallery->people_page(page.offset, page.limit);
  json out = json::array();
  for (const auto& p : items) {
    out.push_back({{"name", p.person},
                   {"faces", p.face_count},
                   {"thumbnail", p.thumbnail_face ? json("/v1/faces/" + *p.thumbnail_face + "/thumbnail") : json(nullptr)}});
  }
  write_json(response, page_json(total, page, std::move(out)));
}

void person_faces_page(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  const std::string person = request.matches[1];
  const Page page = page_of(request);
  const std::vector<GalleryFace> faces = loaded->gallery->faces_of(person);
  if (faces.empty()) throw Error(ErrorCode::kNotFound, "no person named '" + person + "'");
  json items = json::array();
  for (std::size_t i = static_cast<std::size_t>(page.offset); i < faces.size() && items.size() < static_cast<std::size_t>(page.limit); ++i) {
    items.push_back({{"id", faces[i].id},
                     {"source", faces[i].source_path},
                     {"added", faces[i].created_unix_ms},
                     {"thumbnail", "/v1/faces/" + faces[i].id + "/thumbnail"}});
  }
  write_json(response, page_json(static_cast<std::int64_t>(faces.size()), page, std::move(items)));
}

void face_thumbnail(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const std::string id = request.matches[1];
  write_jpeg(response, context.require_loaded()->gallery->face_thumbnail(id), "face '" + id + "'");
}

void mark_face_not(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const std::string id = request.matches[1];
  const std::string person = context.require_loaded()->gallery->mark_not(id);
  write_json(response, {{"person", person}, {"face", id}});
}

void merge_person(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const std::string from = request.matches[1];
  const std::string into = required_string(parse_json_object(request.body), "into");
  const std::size_t moved = context.require_loaded()->gallery->merge_people(from, into);
  write_json(response, {{"from", from}, {"into", into}, {"moved", moved}});
}

void split_person(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const std::string person = request.matches[1];
  const json body = parse_json_object(request.body);
  const std::vector<std::string> faces = string_list(body, "faces", /*required=*/true);
  const std::string to = required_string(body, "to");
  const std::size_t moved = context.require_loaded()->gallery->split_faces(person, faces, to);
  write_json(response, {{"from", person}, {"to", to}, {"moved", moved}});
}

// A photo of someone who is not `person`: its face (the largest, or the one at the given box)
// becomes a negative example of that person.
void mark_person_not(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  const std::string person = request.matches[1];
  const FormData form = read_form(request, {"x", "y", "width", "height"});
  if (form.files.size() != 1) throw Error(ErrorCode::kInvalidArgument, "send one multipart file field 'image'");
  const Image image = decode_upload(context, form.files.front().content);
  const PipelineOptions pipeline = context.pipeline_options();
  Face face;
  const auto x = param(request, form, "x"), y = param(request, form, "y");
  const auto w = param(request, form, "width"), h = param(request, form, "height");
  if (x || y || w || h) {
    if (!(x && y && w && h)) throw Error(ErrorCode::kInvalidArgument, "give all of x, y, width and height, or none");
    const Box box{parse_float_param("x", *x, -1e6F, 1e6F), parse_float_param("y", *y, -1e6F, 1e6F),
                  parse_float_param("width", *w, 1.0F, 1e6F), parse_float_param("height", *h, 1.0F, 1e6F)};
    face = loaded->engine.face_at(image, box, pipeline);
  } else {
    const std::vector<Face> faces = loaded->engine.detect(image, pipeline);
    if (faces.empty()) throw Error(ErrorCode::kNoFace, "no face found in the image");
    face = faces[loaded->engine.choose_subject(image, faces, FaceChoice::kLargest, pipeline)];
  }
  const Embedding embedding = loaded->engine.embed(image, face, pipeline.chip);
  const std::string name = form.files.front().filename.empty() ? "upload" : form.files.front().filename;
  const std::string id = loaded->gallery->add_negative(person, embedding, loaded->engine.model_info(), "http:" + name);
  write_json(response, {{"person", person}, {"negative", id}, {"box", box_fields(face.box, image.width, image.height)}});
}

void list_unknown(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const Page page = page_of(request);
  const UnknownPage unknown = context.require_loaded()->gallery->list_unknown(page.offset, page.limit);
  json items = json::array();
  for (const UnknownFace& u : unknown.items) items.push_back(unknown_json(u));
  write_json(response, page_json(unknown.total, page, std::move(items)));
}

void unknown_thumbnail(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const std::string id = request.matches[1];
  write_jpeg(response, context.require_loaded()->gallery->unknown_thumbnail(id), "unknown face '" + id + "'");
}

void refresh_clusters(const ServerContext& context, const httplib::Request&, httplib::Response& response) {
  const ClusterResult result = context.require_loaded()->gallery->cluster_unknown();
  write_json(response, {{"clusters", result.clusters}, {"faces", result.faces}, {"kept_ids", result.kept_ids}});
}

void list_clusters(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const Page page = page_of(request);
  const ClusterPage clusters = context.require_loaded()->gallery->clusters(page.offset, page.limit, 12);
  json items = json::array();
  for (const UnknownCluster& c : clusters.items) {
    json faces = json::array(), close = json::array();
    for (const UnknownFace& u : c.faces) faces.push_back(unknown_json(u));
    for (const ClosePair& p : c.close) close.push_back({{"cluster", p.cluster}, {"distance", p.distance}});
    items.push_back({{"cluster", c.id}, {"size", c.size}, {"faces", faces}, {"close", close}});
  }
  write_json(response, page_json(clusters.total, page, std::move(items)));
}

void promote_cluster(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const std::int64_t cluster = cluster_id_of(request.matches[1]);
  const json body = parse_json_object(request.body);
  const std::string person = required_string(body, "person");
  const std::vector<std::string> faces = string_list(body, "faces", /*required=*/false);
  const std::vector<std::string> ids = context.require_loaded()->gallery->promote_cluster(cluster, person, faces);
  write_json(response, {{"cluster", cluster}, {"person", person}, {"faces", ids}});
}

void dismiss_cluster(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const std::int64_t cluster = cluster_id_of(request.matches[1]);
  const std::size_t removed = context.require_loaded()->gallery->dismiss_cluster(cluster);
  write_json(response, {{"cluster", cluster}, {"removed", removed}});
}

void get_settings(const ServerContext& context, const httplib::Request&, httplib::Response& response) {
  write_json(response, settings_json(*context.require_loaded()->gallery));
}

void put_settings(const ServerContext& context, const httplib::Request& request, httplib::Response& response) {
  const auto loaded = context.require_loaded();
  const json body = parse_json_object(request.body);
  // Everything is checked before anything is written.
  std::vector<std::pair<std::string, std::string>> changes;
  for (const auto& [key, value] : body.items()) {
    if (key == "threshold") {
      if (!value.is_number()) throw Error(ErrorCode::kInvalidArgument, "'threshold' must be a number");
      const std::string text = format_distance_threshold(value.get<float>());
      parse_distance_threshold(text, "threshold");
      changes.emplace_back(kThresholdSetting, text);
    } else if (key == "keep_unknown") {
      if (!value.is_boolean()) throw Error(ErrorCode::kInvalidArgument, "'keep_unknown' must be true or false");
      changes.emplace_back(kKeepUnknownSetting, value.get<bool>() ? "true" : "false");
    } else if (key == "unknown_max_faces" || key == "unknown_max_age_days") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1 || value.get<std::int64_t>() > 999'999'999) {
        throw Error(ErrorCode::kInvalidArgument, "'" + key + "' must be a whole number from 1 to 999999999");
      }
      changes.emplace_back(key, std::to_string(value.get<std::int64_t>()));
    } else {
      throw Error(ErrorCode::kInvalidArgument, "unknown setting '" + key +
                                                   "' (threshold, keep_unknown, unknown_max_faces, unknown_max_age_days)");
    }
  }
  for (const auto& [key, value] : changes) loaded->gallery->set_setting(key, value);
  write_json(response, settings_json(*loaded->gallery));
}

void calibration_plot(const ServerContext& context, const httplib::Request&, httplib::Response& response) {
  response.set_content(calibration_svg(*context.require_loaded()->gallery), "image/svg+xml");
}

}  // namespace

void add_gallery_admin_routes(httplib::Server& server, ServerContext& context) {
  add_routes(server, context, Dialect::kNative,
             {
                 {Method::kGet, "/v1/people", list_people},
                 {Method::kGet, R"(/v1/people/([^/]+)/faces)", person_faces_page},
                 {Method::kGet, R"(/v1/faces/([^/]+)/thumbnail)", face_thumbnail},
                 {Method::kPost, R"(/v1/faces/([^/]+)/not)", mark_face_not},
                 {Method::kPost, R"(/v1/people/([^/]+)/merge)", merge_person},
                 {Method::kPost, R"(/v1/people/([^/]+)/split)", split_person},
                 {Method::kPost, R"(/v1/people/([^/]+)/not)", mark_person_not, /*runs_networks=*/true},
                 {Method::kGet, "/v1/unknown", list_unknown},
                 {Method::kGet, R"(/v1/unknown/([^/]+)/thumbnail)", unknown_thumbnail},
                 {Method::kPost, "/v1/clusters/refresh", refresh_clusters},
                 {Method::kGet, "/v1/clusters", list_clusters},
                 {Method::kPost, R"(/v1/clusters/([^/]+)/promote)", promote_cluster},
                 {Method::kDelete, R"(/v1/clusters/([^/]+))", dismiss_cluster},
                 {Method::kGet, "/v1/settings", get_settings},
                 {Method::kPut, "/v1/settings", put_settings},
                 {Method::kGet, "/v1/calibration.svg", calibration_plot},
             },
             authorize_native);
}

}  // namespace siamface::server
