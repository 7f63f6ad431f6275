// siamface export FILE / siamface import FILE : the gallery as JSON lines.
#include <iostream>
#include <memory>

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
    std::cerr << "imported " << result.added << " faces (" << result.duplicates << " already present), "
              << result.negatives << " negative examples\n";
    emit({{"added", result.added}, {"duplicates", result.duplicates}, {"negatives", result.negatives}});
    return kExitOk;
  }, exit_code);
}

}  // namespace siamface::cli
