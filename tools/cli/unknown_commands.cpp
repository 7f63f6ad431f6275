// Unknown faces and corrections (docs/unknown-faces.md): siamface unknown list|purge, cluster,
// promote, dismiss, merge, split, not.
#include <charconv>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli_common.hpp"
#include "commands.hpp"
#include "siamface/identify.hpp"

namespace siamface::cli {
namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

nlohmann::json unknown_json(const UnknownFace& u) {
  nlohmann::json out = {{"id", u.face.id},
                        {"source", u.face.source_path},
                        {"time", u.face.created_unix_ms},
                        {"quality", u.quality},
                        {"box", to_json(u.face.face.box)}};
  out["cluster"] = u.cluster ? nlohmann::json(*u.cluster) : nlohmann::json(nullptr);
  return out;
}

// "x,y,w,h" in pixels.
// --box: the JSON box identify and detect print ({"left":..,"top":..,"width":..,"height":..}),
// or its four numbers in that order, comma-separated. Locale-independent.
Box parse_box(const std::string& text) {
  Box box;
  const Error bad(ErrorCode::kInvalidArgument,
                  "--box must be identify's JSON box {\"left\",\"top\",\"width\",\"height\"} or left,top,width,height "
                  "in pixels, not '" + text + "'");
  if (!text.empty() && text.front() == '{') {
    const nlohmann::json json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) throw bad;
    float* fields[] = {&box.left, &box.top, &box.width, &box.height};
    const char* names[] = {"left", "top", "width", "height"};
    for (int i = 0; i < 4; ++i) {
      if (!json.contains(names[i]) || !json[names[i]].is_number()) throw bad;
      *fields[i] = json[names[i]].get<float>();
    }
  } else {
    const std::vector<std::string> parts = split_list(text);
    if (parts.size() != 4) throw bad;
    float* fields[] = {&box.left, &box.top, &box.width, &box.height};
    for (int i = 0; i < 4; ++i) {
      const std::string& part = parts[i];
      const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), *fields[i]);
      if (ec != std::errc() || end != part.data() + part.size()) throw bad;
    }
  }
  if (!(box.width > 0 && box.height > 0)) throw Error(ErrorCode::kInvalidArgument, "--box: width and height must be positive");
  return box;
}

void add_unknown_command(CLI::App& app, int& exit_code) {
  struct Args {
    GalleryFlags gallery;
    bool json = false;
    bool all = false;
    std::int64_t offset = 0;
    std::int64_t limit = 1000000;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand("unknown", "Faces nobody was named for (kept with --keep-unknown)");
  command->require_subcommand(1);
  CLI::App* list = command->add_subcommand("list", "List kept unknown faces, newest first");
  list->add_flag("--json", args->json, "One JSON line per face");
  list->add_option("--offset", args->offset, "Skip this many")->check(CLI::NonNegativeNumber);
  list->add_option("--limit", args->limit, "At most this many")->check(CLI::PositiveNumber);
  args->gallery.add_to(*list);
  set_runner(*list, [args] {
    const Gallery gallery = args->gallery.open_read_only();
    const UnknownPage page = gallery.list_unknown(args->offset, args->limit);
    for (const UnknownFace& u : page.items) {
      if (args->json) {
        emit(unknown_json(u));
      } else {
        std::cout << u.face.id << '\t' << (u.cluster ? "#" + std::to_string(*u.cluster) : std::string("-")) << '\t'
                  << u.face.source_path << '\n';
      }
    }
    if (!args->json) std::cerr << page.total << " unknown faces\n";
    return kExitOk;
  }, exit_code);
  struct SettingsArgs {
    GalleryFlags gallery;
    std::string keep;
    std::string max_faces;
    std::string max_age_days;
  };
  auto settings_args = std::make_shared<SettingsArgs>();
  CLI::App* settings = command->add_subcommand("settings", "Show or change keep_unknown and the retention bounds (JSON)");
  settings->add_option("--keep", settings_args->keep, "Keep unknown faces when the server is asked to")
      ->check(CLI::IsMember({"true", "false"}));
  settings->add_option("--max-faces", settings_args->max_faces, "Keep at most this many (default 10000)");
  settings->add_option("--max-age-days", settings_args->max_age_days, "Delete older ones (default 30)");
  settings_args->gallery.add_to(*settings);
  set_runner(*settings, [settings_args] {
    const SettingsArgs& a = *settings_args;
    const bool change = !a.keep.empty() || !a.max_faces.empty() || !a.max_age_days.empty();
    Gallery gallery = change ? a.gallery.open(/*create=*/true) : a.gallery.open_read_only();
    // Checked by the gallery (validate_setting) before each write.
    if (!a.keep.empty()) gallery.set_setting(kKeepUnknownSetting, a.keep);
    if (!a.max_faces.empty()) gallery.set_setting(kUnknownMaxFacesSetting, a.max_faces);
    if (!a.max_age_days.empty()) gallery.set_setting(kUnknownMaxAgeDaysSetting, a.max_age_days);
    const UnknownPolicy policy = gallery.unknown_policy();
    emit({{"keep_unknown", policy.keep},
          {"unknown_max_faces", policy.max_faces},
          {"unknown_max_age_days", policy.max_age_days}});
    return kExitOk;
  }, exit_code);
  CLI::App* purge = command->add_subcommand("purge", "Remove unknown faces past the age and count bounds (--all: every one)");
  purge->add_flag("--all", args->all, "Remove every unknown face");
  purge->add_flag("--json", args->json, "Print {\"removed\": N}");
  args->gallery.add_to(*purge);
  set_runner(*purge, [args] {
    Gallery gallery = args->gallery.open(/*create=*/false);
    const std::size_t removed = gallery.purge_unknown(args->all);
    if (args->json) {
      emit({{"removed", removed}});
    } else {
      std::cerr << "removed " << removed << " unknown faces\n";
    }
    return kExitOk;
  }, exit_code);
}

void add_cluster_command(CLI::App& app, int& exit_code) {
  struct Args {
    GalleryFlags gallery;
    bool json = false;
    ClusterOptions options;
  };
  auto args = std::make_shared<Args>();
  CLI::App* command = app.add_subcommand("cluster", "Group the unknown faces; ids stay stable across runs");
  command->add_flag("--json", args->json, "One JSON line per cluster: {cluster, size, faces, close}");
  command->add_option("--threshold", args->options.threshold, "Merge while the average distance is below this")
      ->check(CLI::Range(0.01F, 4.0F))->capture_default_str();
  command->add_option("--close", args->options.close_distance, "Report clusters whose centres are nearer than this")
      ->check(CLI::Range(0.0F, 4.0F))->capture_default_str();
  args->gallery.add_to(*command);
  set_runner(*command, [args] {
    Gallery gallery = args->gallery.open(/*create=*/false);
    const ClusterResult result = gallery.cluster_unknown(args->options);
    constexpr std::int64_t kPage = 500;
    for (std::int64_t offset = 0;; offset += kPage) {
      const ClusterPage page =
          gallery.clusters(offset, kPage, std::numeric_limits<std::size_t>::max(), args->options.close_distance);
      for (const UnknownCluster& c : page.items) {
        nlohmann::json close = nlohmann::json::array();
        for (const ClosePair& p : c.close) close.push_back({{"cluster", p.cluster}, {"distance", p.distance}});
        if (args->json) {
          nlohmann::json faces = nlohmann::json::array();
          for (const UnknownFace& u : c.faces) faces.push_back(unknown_json(u));
          emit({{"cluster", c.id}, {"size", c.size}, {"faces", faces}, {"close", close}});
        } else {
          std::cout << '#' << c.id << '\t' << c.size << " faces";
          for (const ClosePair& p : c.close) std::cout << "\tclose to #" << p.cluster << " (" << p.distance << ')';
          std::cout << '\n';
        }
      }
      if (offset + kPage >= page.total) break;
    }
    std::cerr << result.clusters << " clusters of " << result.faces << " unknown faces (" << result.kept_ids
              << " kept their id)\n";
    return kExitOk;
  }, exit_code);
}

void add_correction_commands(CLI::App& app, int& exit_code) {
  struct Args {
    GalleryFlags gallery;
    EngineFlags engine;
    std::int64_t cluster = 0;
    std::string person, other, faces, to, image, box, face_id;
  };
  {
    auto args = std::make_shared<Args>();
    CLI::App* command = app.add_subcommand("promote", "Enrol a cluster (or --faces of it) as a new or existing person");
    command->add_option("cluster", args->cluster, "Cluster id (siamface cluster)")->required();
    command->add_option("person", args->person, "Person to enrol them as")->required();
    command->add_option("--faces", args->faces, "Only these unknown-face ids, comma-separated");
    args->gallery.add_to(*command);
    set_runner(*command, [args] {
      Gallery gallery = args->gallery.open(/*create=*/false);
      const auto ids = gallery.promote_cluster(args->cluster, args->person, split_list(args->faces));
      emit({{"person", args->person}, {"cluster", args->cluster}, {"faces", ids}});
      return kExitOk;
    }, exit_code);
  }
  {
    auto args = std::make_shared<Args>();
    CLI::App* command = app.add_subcommand("dismiss", "Delete a cluster's unknown faces");
    command->add_option("cluster", args->cluster, "Cluster id")->required();
    args->gallery.add_to(*command);
    set_runner(*command, [args] {
      Gallery gallery = args->gallery.open(/*create=*/false);
      const std::size_t removed = gallery.dismiss_cluster(args->cluster);
      emit({{"cluster", args->cluster}, {"removed", removed}});
      return kExitOk;
    }, exit_code);
  }
  {
    auto args = std::make_shared<Args>();
    CLI::App* command = app.add_subcommand("merge", "Move every face of one person into another");
    command->add_option("from", args->person, "Person that goes away")->required();
    command->add_option("into", args->other, "Person that keeps the faces")->required();
    args->gallery.add_to(*command);
    set_runner(*command, [args] {
      Gallery gallery = args->gallery.open(/*create=*/false);
      const std::size_t moved = gallery.merge_people(args->person, args->other);
      emit({{"from", args->person}, {"into", args->other}, {"moved", moved}});
      return kExitOk;
    }, exit_code);
  }
  {
    auto args = std::make_shared<Args>();
    CLI::App* command = app.add_subcommand("split", "Move some faces of a person to another (new or existing)");
    command->add_option("person", args->person, "Person the faces belong to")->required();
    command->add_option("--faces", args->faces, "Face ids, comma-separated (siamface people / gallery)")->required();
    command->add_option("--to", args->to, "Person to move them to")->required();
    args->gallery.add_to(*command);
    set_runner(*command, [args] {
      Gallery gallery = args->gallery.open(/*create=*/false);
      const std::size_t moved = gallery.split_faces(args->person, split_list(args->faces), args->to);
      emit({{"from", args->person}, {"to", args->to}, {"moved", moved}});
      return kExitOk;
    }, exit_code);
  }
  {
    auto args = std::make_shared<Args>();
    CLI::App* command = app.add_subcommand(
        "not", "Correct a wrong match: this face (an image, or --face ID of the gallery) is not PERSON");
    command->add_option("person", args->person, "The person it is not");
    command->add_option("image", args->image, "Photo of the face wrongly named PERSON");
    command->add_option("--box", args->box,
                        "Which face: identify's JSON box, or left,top,width,height (default: the face(s) the "
                        "gallery names PERSON now, else the only face)");
    command->add_option("--face", args->face_id, "A gallery face that is not its person: removed and kept as a negative");
    args->gallery.add_to(*command);
    args->engine.add_to(*command);
    set_runner(*command, [args] {
      Gallery gallery = args->gallery.open(/*create=*/false);
      if (!args->face_id.empty()) {
        if (!args->image.empty()) throw Error(ErrorCode::kInvalidArgument, "give either --face ID or PERSON IMAGE");
        const std::string person = gallery.mark_not(args->face_id);
        emit({{"person", person}, {"face", args->face_id}});
        return kExitOk;
      }
      if (args->person.empty() || args->image.empty()) {
        throw Error(ErrorCode::kInvalidArgument, "give PERSON IMAGE, or --face ID");
      }
      check_person_name(args->person);
      const Engine engine = Engine::open(args->engine.model_options_for(gallery));
      const Image image = load_image(args->image, args->engine.decode_options());
      const PipelineOptions pipeline = args->engine.pipeline_options();
      // The faces the correction is about, and why those (issue 34: a group photo's largest face
      // is not necessarily the one wrongly named).
      std::vector<FaceEmbedding> chosen;
      std::string because;
      if (!args->box.empty()) {
        const Face face = engine.face_at(image, parse_box(args->box), pipeline);
        chosen.push_back({face, engine.embed(image, face, pipeline.chip)});
        because = "--box";
      } else {
        IdentifyOptions options;
        options.pipeline = pipeline;
        const std::vector<IdentifiedFace> faces = identify_image(engine, gallery, image, options);
        if (faces.empty()) throw Error(ErrorCode::kNoFace, "no face found in " + args->image);
        for (const IdentifiedFace& f : faces) {
          if (f.decision.known && f.decision.person == args->person) chosen.push_back({f.face, f.embedding});
        }
        because = "named " + args->person;
        if (chosen.empty() && faces.size() == 1) {
          chosen.push_back({faces.front().face, faces.front().embedding});
          because = "the only face";
        }
        if (chosen.empty()) {
          nlohmann::json boxes = nlohmann::json::array();
          for (const IdentifiedFace& f : faces) boxes.push_back({{"box", to_json(f.face.box)}, {"name", f.decision.person}});
          throw Error(ErrorCode::kInvalidArgument, "no face of " + args->image + " is named " + args->person + " now, and it has " +
                                                       std::to_string(faces.size()) + " faces: pick one with --box " +
                                                       boxes.dump());
        }
      }
      nlohmann::json negatives = nlohmann::json::array();
      for (const FaceEmbedding& f : chosen) {
        const std::string id = gallery.add_negative(args->person, f.embedding, engine.model_info(), args->image);
        negatives.push_back({{"negative", id}, {"box", to_json(f.face.box)}});
        std::cerr << "not: " << args->image << ": the face at " << to_json(f.face.box).dump() << " (" << because
                  << ") is not " << args->person << '\n';
      }
      emit({{"person", args->person}, {"chosen_because", because}, {"negatives", negatives}});
      return kExitOk;
    }, exit_code);
  }
}

}  // namespace

void add_unknown_commands(CLI::App& app, int& exit_code) {
  add_unknown_command(app, exit_code);
  add_cluster_command(app, exit_code);
  add_correction_commands(app, exit_code);
}

}  // namespace siamface::cli
