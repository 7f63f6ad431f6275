// siamface enroll DATA_DIR | --name NAME PHOTO... : one-shot enrolment into the gallery.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cli_common.hpp"
#include "cli_terms.hpp"
#include "commands.hpp"
#include "parallel_map.hpp"
#include "progress.hpp"
#include "siamface/identify.hpp"

namespace siamface::cli {
namespace {

namespace fs = std::filesystem;

struct EnrollArgs {
  std::vector<std::string> inputs;
  std::string name;
  bool largest = false;
  QualityGate gate;
  int jobs = 2;
  int batch_size = 32;
  EngineFlags engine;
  GalleryFlags gallery;
};

struct Task {
  std::string person;
  std::string path;
};

// DATA_DIR/<person>/<photos...> (photos may sit in sub-folders of the person's folder).
std::vector<Task> tasks_from_layout(const std::string& data_dir) {
  std::error_code ec;
  if (!fs::is_directory(data_dir, ec)) {
    throw Error(ErrorCode::kInvalidArgument,
                data_dir + " is not a folder; use DATA_DIR/<person>/<photos> or --name NAME PHOTO...");
  }
  std::vector<fs::path> people;
  for (const auto& entry : fs::directory_iterator(data_dir, ec))
    if (entry.is_directory(ec)) people.push_back(entry.path());
  std::sort(people.begin(), people.end());
  if (people.empty()) throw Error(ErrorCode::kInvalidArgument, data_dir + " holds no person folders");
  std::vector<Task> tasks;
  for (const fs::path& person_dir : people) {
    const std::string person = person_dir.filename().string();
    const std::vector<std::string> photos = collect_images({person_dir.string()});
    if (photos.empty()) {
      std::cerr << "siamface: " << person_dir.string() << ": no photos for " << person << '\n';
    }
    for (const std::string& photo : photos) tasks.push_back({person, photo});
  }
  return tasks;
}

// The summary's words for EnrollResult::reason_code.
std::string reason_in_words(const std::string& code) {
  static const std::map<std::string, std::string> words = {
      {"no_face", "no face found"},
      {"several_faces", "several faces (--largest takes the largest)"},
      {"face_too_small", "face too small (--min-face)"},
      {"face_too_blurry", "face too blurry (--min-sharpness)"},
      {"head_turned", "head turned too far (--max-yaw)"},
      {"already_enrolled", "already enrolled"},
      {"enrolled_as_another_person", "already enrolled under another name"},
      {"invalid_person_name", "invalid person name"},
  };
  const auto it = words.find(code);
  return it != words.end() ? it->second : code;
}

int run_enroll(const EnrollArgs& args) {
  std::vector<Task> tasks;
  if (!args.name.empty()) {
    check_person_name(args.name);
    for (const std::string& photo : collect_images(args.inputs)) tasks.push_back({args.name, photo});
  } else {
    if (args.inputs.size() != 1) {
      throw Error(ErrorCode::kInvalidArgument, "give one DATA_DIR, or --name NAME with the photos");
    }
    tasks = tasks_from_layout(args.inputs.front());
  }
  if (tasks.empty()) throw Error(ErrorCode::kInvalidArgument, "no photos to enroll");
  std::map<std::string, std::string> bad_names;  // person -> why
  for (const Task& task : tasks) {
    try {
      check_person_name(task.person);
    } catch (const Error& e) {
      bad_names[task.person] = e.what();
    }
  }

  Gallery gallery = args.gallery.open(/*create=*/true);
  const Engine engine = Engine::open(args.engine.model_options_for(gallery));
  EnrollOptions options;
  options.take_largest = args.largest;
  options.gate = args.gate;
  options.decode = args.engine.decode_options();
  options.pipeline = args.engine.pipeline_options();
  if (args.jobs > 1) set_intra_op_threads(1);

  std::map<EnrollStatus, int> counts;
  std::map<std::string, int> enrolled_per_person;
  std::map<std::string, int> not_stored;           // reason code -> photos
  std::map<std::string, int> enrolled_as_another;  // the name the gallery holds them under -> photos
  std::vector<EnrollResult> pending;
  Progress progress("enroll", tasks.size());
  std::size_t done = 0;
  const auto flush = [&] {
    commit_enrollments(gallery, pending);
    for (const EnrollResult& result : pending) {
      ++counts[result.status];
      const std::string& person = result.face ? result.face->person : std::string();
      if (result.status == EnrollStatus::kEnrolled || result.status == EnrollStatus::kDuplicate) {
        ++enrolled_per_person[person];
      }
      if (result.status != EnrollStatus::kEnrolled) ++not_stored[result.reason_code];
      const bool elsewhere = result.status == EnrollStatus::kDuplicate && result.face &&
                             result.stored_person != result.face->person;
      if (elsewhere) ++enrolled_as_another[result.stored_person];
      nlohmann::json line = {{"file", result.source_path}, {"status", to_string(result.status)}};
      if (result.face) {
        line["person"] = result.face->person;
        line["box"] = to_json(result.face->face.box);  // which face was taken (issue 34)
      }
      const std::string reason = in_cli_terms(result.reason);
      if (!reason.empty()) line["reason"] = reason;
      if (!result.reason_code.empty()) line["reason_code"] = result.reason_code;
      if (!result.face_id.empty()) line["face_id"] = result.face_id;
      if (result.status == EnrollStatus::kDuplicate) line["enrolled_as"] = result.stored_person;
      emit(line);
      if (result.status == EnrollStatus::kSkipped || result.status == EnrollStatus::kFailed || elsewhere) {
        std::cerr << "siamface: " << to_string(result.status) << " " << result.source_path << ": " << reason << '\n';
      }
    }
    pending.clear();
  };
  parallel_map_ordered<EnrollResult>(
      tasks.size(), args.jobs,
      [&](std::size_t i) {
        if (const auto bad = bad_names.find(tasks[i].person); bad != bad_names.end()) {
          EnrollResult result;
          result.source_path = tasks[i].path;
          result.status = EnrollStatus::kFailed;
          result.reason = bad->second;
          result.reason_code = "invalid_person_name";
          return result;
        }
        return prepare_enrollment(engine, tasks[i].person, tasks[i].path, options);
      },
      [&](std::size_t, EnrollResult& result) {
        pending.push_back(std::move(result));
        progress.step(++done);
        if (static_cast<int>(pending.size()) >= args.batch_size) flush();
      });
  flush();

  std::vector<std::string> people_without_faces;
  std::set<std::string> people;
  for (const Task& task : tasks) people.insert(task.person);
  for (const std::string& person : people)
    if (!enrolled_per_person.count(person)) people_without_faces.push_back(person);
  for (const std::string& person : people_without_faces) {
    std::cerr << "siamface: no usable photo for " << person << "; nothing was enrolled for this person\n";
  }
  const nlohmann::json summary = {{"enrolled", counts[EnrollStatus::kEnrolled]},
                                  {"duplicates", counts[EnrollStatus::kDuplicate]},
                                  {"skipped", counts[EnrollStatus::kSkipped]},
                                  {"failed", counts[EnrollStatus::kFailed]},
                                  {"not_stored", not_stored},
                                  {"enrolled_as_another_person", enrolled_as_another},
                                  {"people_without_faces", people_without_faces},
                                  {"gallery", gallery.path()}};
  std::cerr << "enroll: " << counts[EnrollStatus::kEnrolled] << " enrolled, " << counts[EnrollStatus::kDuplicate]
            << " already present, " << counts[EnrollStatus::kSkipped] << " skipped, "
            << counts[EnrollStatus::kFailed] << " failed -> " << gallery.path() << '\n';
  if (!not_stored.empty()) {
    // Most frequent reason first.
    std::vector<std::pair<std::string, int>> reasons(not_stored.begin(), not_stored.end());
    std::stable_sort(reasons.begin(), reasons.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::cerr << "enroll: not stored:";
    const char* separator = " ";
    for (const auto& [code, count] : reasons) {
      std::cerr << separator << count << " " << reason_in_words(code);
      if (code == "enrolled_as_another_person") {
        const char* inner = " (";
        for (const auto& [person, n] : enrolled_as_another) {
          std::cerr << inner << n << " as " << person;
          inner = ", ";
        }
        std::cerr << ")";
      }
      separator = ", ";
    }
    std::cerr << '\n';
  }
  emit({{"summary", summary}});
  if (counts[EnrollStatus::kFailed]) return kExitError;
  if (counts[EnrollStatus::kEnrolled] == 0) {
    std::cerr << "enroll: nothing was enrolled (exit " << kExitNegative << ")\n";
    return kExitNegative;
  }
  return kExitOk;
}

}  // namespace

void add_enroll_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<EnrollArgs>();
  CLI::App* command = app.add_subcommand(
      "enroll", "Enroll people: DATA_DIR/<person>/<photos>, or --name NAME PHOTO...; one face per photo. "
      "Exit 0 when a face was stored, 1 when none was (no face, several faces, already enrolled...), 2 on errors");
  command->add_option("inputs", args->inputs, "DATA_DIR, or the photos/folders of --name")->required();
  command->add_option("--name", args->name, "Enroll all given photos as this person");
  command->add_flag("--largest", args->largest, "Photos with several faces: take the largest one");
  command->add_option("--min-face", args->gate.min_face_px, "Quality gate: minimum face size (px)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  command->add_option("--min-sharpness", args->gate.min_sharpness, "Quality gate: minimum sharpness (Laplacian var.)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  command->add_option("--max-yaw", args->gate.max_abs_yaw, "Quality gate: maximum head turn, 0..1")
      ->check(CLI::Range(0.0F, 1.0F))->capture_default_str();
  command->add_option("-j,--jobs", args->jobs, "Worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  command->add_option("--batch", args->batch_size, "Photos per gallery transaction")->check(CLI::Range(1, 100000))
      ->capture_default_str();
  args->engine.add_to(*command);
  args->engine.add_enhance_to(*command);
  args->gallery.add_to(*command);
  set_runner(*command, [args] { return run_enroll(*args); }, exit_code);
}

}  // namespace siamface::cli
