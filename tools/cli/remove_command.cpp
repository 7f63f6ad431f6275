// siamface remove NAME | --face ID : erase a person (every row) or one face.
#include <iostream>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"

namespace siamface::cli {
namespace {

struct RemoveArgs {
  std::string person;
  std::string face_id;
  GalleryFlags gallery;
};

}  // namespace

void add_remove_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<RemoveArgs>();
  CLI::App* command = app.add_subcommand("remove", "Erase a person, or one face with --face ID");
  command->add_option("name", args->person, "Person to erase");
  command->add_option("--face", args->face_id, "Erase only this face id");
  args->gallery.add_to(*command);
  set_runner(*command, [args] {
    if (args->person.empty() == args->face_id.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "give either a NAME or --face ID");
    }
    Gallery gallery = args->gallery.open(/*create=*/false);
    if (!args->face_id.empty()) {
      gallery.remove_face(args->face_id);
      std::cerr << "removed face " << args->face_id << '\n';
    } else {
      const std::size_t removed = gallery.remove_person(args->person);
      std::cerr << "removed " << args->person << " (" << removed << " faces)\n";
    }
    return kExitOk;
  }, exit_code);
}

}  // namespace siamface::cli
