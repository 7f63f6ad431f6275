// Embeddings of a labelled set kept on disk for the other test processes of the same build.
// ctest runs every test of a suite in a process of its own, so a suite whose fixture embeds the
// same few hundred photos would embed them once per test (about 45 s each). The key is the test
// executable itself (path, size, modification time), the model and the set, so a rebuild or
// another model never reads an old entry. Only for engines opened with Engine::open()'s defaults.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/labelled_sets.hpp"

namespace siamface::test {
namespace embedding_cache_detail {

inline std::string cache_key(const Engine& engine, const LabelledSet& set, Variant variant) {
  namespace fs = std::filesystem;
  const fs::path exe = fs::read_symlink("/proc/self/exe");
  const ModelInfo model = engine.model_info();
  const std::string identity =
      exe.string() + '\n' + std::to_string(fs::file_size(exe)) + '\n' +
      std::to_string(fs::last_write_time(exe).time_since_epoch().count()) + '\n' + model.name + '\n' +
      model.version + '\n' + model.weights_sha256 + '\n' + to_string(engine.options().detector) + '\n' +
      set.root.string() + '\n' +
      std::to_string(set.photos_per_person) + '\n' + std::to_string(static_cast<int>(variant));
  return std::to_string(std::hash<std::string>{}(identity));
}

struct CachedSet {
  std::vector<LabelledFace> faces;
  int missed = 0;
};

template <typename T>
void put(std::ostream& out, const T& value) {
  out.write(reinterpret_cast<const char*>(&value), sizeof value);
}
template <typename T>
bool get(std::istream& in, T& value) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&value), sizeof value));
}

constexpr std::uint32_t kMagic = 0x53464543;  // "SFEC"

inline void write(const std::filesystem::path& file, const CachedSet& set) {
  // Written beside the target and renamed: a process reading at the same time sees the whole
  // file or none.
  const std::filesystem::path partial = file.string() + "." + std::to_string(::getpid()) + ".partial";
  {
    std::ofstream out(partial, std::ios::binary);
    put(out, kMagic);
    put(out, set.missed);
    put(out, static_cast<std::uint64_t>(set.faces.size()));
    for (const LabelledFace& f : set.faces) {
      put(out, static_cast<std::uint64_t>(f.person.size()));
      out.write(f.person.data(), static_cast<std::streamsize>(f.person.size()));
      put(out, static_cast<std::uint64_t>(f.embedding.size()));
      out.write(reinterpret_cast<const char*>(f.embedding.data()),
                static_cast<std::streamsize>(f.embedding.size() * sizeof(float)));
      put(out, f.quality);
    }
    if (!out) return;
  }
  std::error_code ignored;
  std::filesystem::rename(partial, file, ignored);
}

inline std::optional<CachedSet> read(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::uint32_t magic = 0;
  std::uint64_t count = 0;
  CachedSet set;
  if (!get(in, magic) || magic != kMagic || !get(in, set.missed) || !get(in, count) || count > 1'000'000) return std::nullopt;
  for (std::uint64_t i = 0; i < count; ++i) {
    LabelledFace f;
    std::uint64_t length = 0;
    if (!get(in, length) || length > 4096) return std::nullopt;
    f.person.resize(length);
    if (!in.read(f.person.data(), static_cast<std::streamsize>(length)) || !get(in, length) || length > 65536) return std::nullopt;
    f.embedding.resize(length);
    if (!in.read(reinterpret_cast<char*>(f.embedding.data()), static_cast<std::streamsize>(length * sizeof(float))) ||
        !get(in, f.quality))
      return std::nullopt;
    set.faces.push_back(std::move(f));
  }
  return set;
}

}  // namespace embedding_cache_detail

// embed_set(), read from the build's cache when another test process of this executable
// already embedded the set (a damaged entry is embedded again).
inline std::vector<LabelledFace> embed_set_cached(const Engine& engine, const LabelledSet& set, Variant variant,
                                                  int* missed = nullptr) {
  namespace cache = embedding_cache_detail;
  const std::filesystem::path dir = std::filesystem::path(SIAMFACE_BINARY_DIR) / "test-cache" / "embeddings";
  const std::filesystem::path file = dir / (cache::cache_key(engine, set, variant) + ".bin");
  if (std::optional<cache::CachedSet> cached = cache::read(file)) {
    if (missed) *missed += cached->missed;
    return std::move(cached->faces);
  }
  cache::CachedSet fresh;
  fresh.faces = embed_set(engine, set, variant, &fresh.missed);
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  cache::write(file, fresh);
  if (missed) *missed += fresh.missed;
  return fresh.faces;
}

}  // namespace siamface::test
