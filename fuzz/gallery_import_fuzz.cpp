// Fuzzes the gallery import (`siamface import`: Gallery::import_jsonl, JSON lines) end to end:
// parsing and validation of every line, then the SQLite insert of a valid file. The gallery is
// one per-process file in a temp dir; it is emptied after each successful import so every input
// starts from the same state (an empty gallery that keeps the model of the first import).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>

#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"

namespace {

const std::string& scratch_path() {
  // /dev/shm when there is one: SQLite syncs every commit, and tmpfs makes that cheap.
  static const std::string path =
      ((std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path()) /
       ("siamface-import-fuzz-" + std::to_string(getpid()) + ".db"))
          .string();
  return path;
}

void remove_scratch_files() {
  std::error_code ignored;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(scratch_path() + suffix, ignored);
}

siamface::Gallery& scratch_gallery() {
  static siamface::Gallery gallery = [] {
    remove_scratch_files();
    std::atexit(remove_scratch_files);
    return siamface::Gallery::open(scratch_path());
  }();
  return gallery;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  siamface::Gallery& gallery = scratch_gallery();
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const siamface::ImportResult result = gallery.import_jsonl(in, "fuzz.jsonl");
    if (result.added > 0) gallery.remove_all();
  } catch (const siamface::Error&) {
    // Invalid line, or kModelMismatch against the first imported model: rejected cleanly.
  }
  return 0;
}
