// siamface rename OLD NEW : rename a person; merges into NEW when it exists.
#include <iostream>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "siamface/identify.hpp"

namespace siamface::cli {
namespace {

struct RenameArgs {
  std::string from;
  std::string to;
  GalleryFlags gallery;
};

}  // namespace

void add_rename_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RenameArgs>();
  CLI::App* command = app.add_subcommand("rename", "Rename a person (merging into NEW if it exists)");
  command->add_option("old", args->from, "Current name")->required();
  command->add_option("new", args->to, "New name")->required();
  args->gallery.add_to(*command);
  set_runner(*command, [args] {
    check_person_name(args->to);
    Gallery gallery = args->gallery.open(/*create=*/false);
    const std::size_t moved = gallery.rename_person(args->from, args->to);
    std::cerr << "renamed " << args->from << " -> " << args->to << " (" << moved << " faces)\n";
    return kExitOk;
  }, exit_code);
}

}  // namespace siamface::cli
