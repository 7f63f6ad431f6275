// siamface enroll DATA_DIR | --name NAME PHOTO... : one-shot enrolment into the gallery.
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "cli_common.hpp"
#include "commands.hpp"
#include "parallel_map.hpp"
#include "progress.hpp"
#include "siamface/recognizer.hpp"

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
      nlohmann::json line = {{"file", result.source_path}, {"status", to_string(result.status)}};
      if (result.face) line["person"] = result.face->person;
      if (!result.reason.empty()) line["reason"] = result.reason;
      if (!result.face_id.empty()) line["face_id"] = result.face_id;
      emit(line);
      if (result.status == EnrollStatus::kSkipped || result.status == EnrollStatus::kFailed) {
        std::cerr << "siamface: " << to_string(result.status) << " " << result.source_path << ": " << result.reason
                  << '\n';
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
                                  {"people_without_faces", people_without_faces},
                                  {"gallery", gallery.path()}};
  std::cerr << "enroll: " << counts[EnrollStatus::kEnrolled] << " enrolled, " << counts[EnrollStatus::kDuplicate]
            << " already present, " << counts[EnrollStatus::kSkipped] << " skipped, "
            << counts[EnrollStatus::kFailed] << " failed -> " << gallery.path() << '\n';
  emit({{"summary", summary}});
  return counts[EnrollStatus::kFailed] ? kExitError : kExitOk;
}

}  // namespace

void add_enroll_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<EnrollArgs>();
  CLI::App* command = app.add_subcommand(
      "enroll", "Enroll people: DATA_DIR/<person>/<photos>, or --name NAME PHOTO...; one face per photo");
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
