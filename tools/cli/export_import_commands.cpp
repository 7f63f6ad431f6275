// siamface export FILE / siamface import FILE : the gallery as JSON lines.
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "cli_common.hpp"
#include "commands.hpp"

namespace siamface::cli {
namespace {

struct TransferArgs {
  std::string file;
  GalleryFlags gallery;
};

}  // namespace

void add_export_import_commands(CLI::App& app, int& exit_code) {
  auto export_args = std::make_shared<TransferArgs>();
  CLI::App* export_command = app.add_subcommand("export", "Write the gallery as JSON lines (file mode 0600)");
  export_command->add_option("file", export_args->file, "Output file")->required();
  export_args->gallery.add_to(*export_command);
  set_runner(*export_command, [export_args] {
    const Gallery gallery = export_args->gallery.open_read_only();
    const std::size_t faces = gallery.export_jsonl(export_args->file);
    std::cerr << "exported " << faces << " faces to " << export_args->file << '\n';
    return kExitOk;
  }, exit_code);

  auto import_args = std::make_shared<TransferArgs>();
  CLI::App* import_command = app.add_subcommand("import", "Add the faces of a JSON-lines export");
  import_command->add_option("file", import_args->file, "Export file")->required()->check(CLI::ExistingFile);
  import_args->gallery.add_to(*import_command);
  set_runner(*import_command, [import_args] {
    Gallery gallery = import_args->gallery.open(/*create=*/true);
    const ImportResult result = gallery.import_jsonl(import_args->file);
    // A photo's face is stored once, under one person: faces the gallery holds under another
    // name are not imported again; each is named, and counted per pair of names.
    std::map<std::pair<std::string, std::string>, std::size_t> renamed;  // (file's name, gallery's) -> faces
    nlohmann::json conflicts = nlohmann::json::array();
    constexpr std::size_t kNamedOnStderr = 20;  // all of them are in the JSON line
    for (const ImportConflict& c : result.other_person) {
      if (conflicts.size() < kNamedOnStderr) {
        std::cerr << "siamface: not imported " << c.face_id << " (" << c.source_path << ") as " << c.person
                  << ": already enrolled as " << c.stored_person << '\n';
      } else if (conflicts.size() == kNamedOnStderr) {
        std::cerr << "siamface: ... and " << result.other_person.size() - kNamedOnStderr << " more\n";
      }
      conflicts.push_back({{"face_id", c.face_id}, {"person", c.person}, {"source_path", c.source_path},
                           {"enrolled_as", c.stored_person}});
      ++renamed[{c.person, c.stored_person}];
    }
    std::cerr << "imported " << result.added << " faces (" << result.duplicates << " already present";
    if (!result.other_person.empty()) {
      std::cerr << ", of which " << result.other_person.size() << " under another name:";
      const char* separator = " ";
      for (const auto& [names, count] : renamed) {
        std::cerr << separator << count << " of " << names.first << " as " << names.second;
        separator = ", ";
      }
    }
    std::cerr << "), " << result.negatives << " negative examples\n";
    emit({{"added", result.added},
          {"duplicates", result.duplicates},
          {"enrolled_as_another_person", conflicts},
          {"negatives", result.negatives}});
    return kExitOk;
  }, exit_code);
}

}  // namespace siamface::cli
