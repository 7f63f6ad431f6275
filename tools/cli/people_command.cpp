// siamface people : enrolled names with their photo counts.
#include <iostream>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"

namespace siamface::cli {

void add_people_command(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<GalleryFlags>();
  auto json = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand("people", "List enrolled people and their photo counts");
  flags->add_to(*command);
  command->add_flag("--json", *json, "One JSON line per person");
  set_runner(*command, [flags, json] {
    const Gallery gallery = flags->open_read_only();
    for (const PersonSummary& person : gallery.people()) {
      if (*json) {
        emit({{"person", person.person}, {"faces", person.face_count}});
      } else {
        std::cout << person.face_count << '\t' << person.person << '\n';
      }
    }
    return kExitOk;
  }, exit_code);
}

}  // namespace siamface::cli
