// Fuzzes the gallery import (`siamface import`: Gallery::import_jsonl, JSON lines): first the
// codec alone (gallery/jsonl_codec.hpp, no database): parse, and a valid file must encode and
// parse back to the same bytes; then end to end, the SQLite insert of a valid file. The gallery is
// one per-process file in a temp dir; it is emptied after each successful import so every input
// starts from the same state (an empty gallery that keeps the model of the first import).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>

#include "gallery/jsonl_codec.hpp"

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

std::string encode(const siamface::gallery::ParsedExport& parsed) {
  std::string text = siamface::gallery::header_line(parsed.header) + "\n";
  for (const auto& face : parsed.faces) text += siamface::gallery::face_line(face) + "\n";
  return text;
}

// A file the codec accepts must survive encode -> parse -> encode unchanged.
void check_round_trip(const std::string& input) {
  std::istringstream in(input);
  siamface::gallery::ParsedExport parsed;
  try {
    parsed = siamface::gallery::parse_export(in, "fuzz.jsonl");
  } catch (const siamface::Error&) {
    return;
  }
  const std::string once = encode(parsed);
  std::istringstream again(once);
  if (encode(siamface::gallery::parse_export(again, "again.jsonl")) != once) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check_round_trip(input);
  siamface::Gallery& gallery = scratch_gallery();
  std::istringstream in(input);
  try {
    const siamface::ImportResult result = gallery.import_jsonl(in, "fuzz.jsonl");
    if (result.added > 0) gallery.remove_all();
  } catch (const siamface::Error&) {
    // Invalid line, or kModelMismatch against the first imported model: rejected cleanly.
  }
  return 0;
}
