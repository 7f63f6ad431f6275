#include "index/approximate_snapshot.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "siamface/errors.hpp"

namespace siamface::index {

namespace {

constexpr std::array<char, 8> kMagic{'S', 'F', 'A', 'N', 'N', 'I', 'D', 'X'};
constexpr std::uint32_t kFormatVersion = 1;
constexpr std::uint32_t kNoRow = std::numeric_limits<std::uint32_t>::max();
constexpr std::uint32_t kMaxIdBytes = 4096;

std::uint64_t mix(std::uint64_t h) {  // splitmix64's finaliser
  h ^= h >> 30;
  h *= 0xBF58476D1CE4E5B9ULL;
  h ^= h >> 27;
  h *= 0x94D049BB133111EBULL;
  return h ^ (h >> 31);
}

std::uint64_t row_hash(const std::string& id, const float* row, std::size_t dims) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (const unsigned char c : id) h = (h ^ c) * 0x100000001B3ULL;
  h = mix(h ^ id.size());
  for (std::size_t i = 0; i < dims; ++i) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, row + i, sizeof bits);
    h = (h ^ bits) * 0x100000001B3ULL;
    h ^= h >> 29;
  }
  return mix(h);
}

std::uint64_t bytes_hash(const std::vector<std::uint8_t>& bytes) {
  std::uint64_t h = 0xCBF29CE484222325ULL ^ bytes.size();
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes.data() + i, sizeof word);
    h = mix(h ^ word);
  }
  for (; i < bytes.size(); ++i) h = (h ^ bytes[i]) * 0x100000001B3ULL;
  return mix(h);
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

template <typename T>
bool put(std::FILE* f, const T& value) {
  return std::fwrite(&value, sizeof value, 1, f) == 1;
}
template <typename T>
bool get(std::FILE* f, T& value) {
  return std::fread(&value, sizeof value, 1, f) == 1;
}

}  // namespace

std::uint64_t rows_checksum(const SnapshotRows& rows) {
  std::uint64_t sum = 0;
  for (std::size_t r = 0; r < rows.row_id->size(); ++r) {
    sum += row_hash((*rows.row_id)[r], rows.matrix + r * rows.dims, rows.dims);
  }
  return sum;
}

void write_snapshot(const std::string& path, const SnapshotRows& rows, const ApproximateIndex& ann,
                    const std::vector<std::uint32_t>& label_row) {
  const auto fail = [&path](const std::string& what) {
    return Error(ErrorCode::kIo, "cannot write the approximate index " + path + ": " + what);
  };
  if (label_row.size() != ann.added()) throw fail("labels and index disagree (a bug)");
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw fail(std::strerror(errno));
  ::fchmod(fd, 0600);
  File file(::fdopen(fd, "wb"));
  if (!file) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw fail(std::strerror(errno));
  }
  try {
    std::FILE* f = file.get();
    bool ok = std::fwrite(kMagic.data(), 1, kMagic.size(), f) == kMagic.size() &&
              put(f, kFormatVersion) && put(f, static_cast<std::uint32_t>(ann.kind())) &&
              put(f, static_cast<std::uint64_t>(rows.dims)) &&
              put(f, static_cast<std::uint64_t>(rows.row_id->size())) &&
              put(f, static_cast<std::uint64_t>(label_row.size())) && put(f, rows_checksum(rows));
    for (std::size_t label = 0; ok && label < label_row.size(); ++label) {
      const std::uint32_t r = label_row[label];
      const std::string empty;
      const std::string& id = r == kNoRow ? empty : (*rows.row_id)[r];
      ok = put(f, static_cast<std::uint32_t>(id.size())) &&
           std::fwrite(id.data(), 1, id.size(), f) == id.size();
    }
    const std::vector<std::uint8_t> bytes = ann.serialize();
    ok = ok && put(f, static_cast<std::uint64_t>(bytes.size())) && put(f, bytes_hash(bytes)) &&
         std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    if (!ok) throw fail(std::strerror(errno));
    if (std::fflush(f) != 0 || ::fsync(::fileno(f)) != 0) throw fail(std::strerror(errno));
    file.reset();
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw fail(std::strerror(errno));
  } catch (...) {
    file.reset();
    ::unlink(tmp.c_str());
    throw;
  }
}

std::optional<LoadedSnapshot> read_snapshot(
    const std::string& path, const SnapshotRows& rows,
    const std::unordered_map<std::string, std::size_t>& id_row) {
  File file(std::fopen(path.c_str(), "rb"));
  if (!file) return std::nullopt;
  std::FILE* f = file.get();
  std::array<char, 8> magic{};
  std::uint32_t version = 0, kind = 0;
  std::uint64_t dims = 0, count = 0, labels = 0, checksum = 0;
  if (std::fread(magic.data(), 1, magic.size(), f) != magic.size() || magic != kMagic ||
      !get(f, version) || version != kFormatVersion || !get(f, kind) || !get(f, dims) ||
      !get(f, count) || !get(f, labels) || !get(f, checksum)) {
    return std::nullopt;
  }
  const std::size_t n = rows.row_id->size();
  // Cheap checks first, then the checksum over every row, before reading the labels.
  if (dims != rows.dims || count != n || labels < count || labels > 2 * count + 1'000'000 ||
      checksum != rows_checksum(rows)) {
    return std::nullopt;
  }
  LoadedSnapshot loaded;
  loaded.label_row.assign(labels, kNoRow);
  std::vector<bool> row_seen(n, false);
  std::string id;
  for (std::uint64_t label = 0; label < labels; ++label) {
    std::uint32_t length = 0;
    if (!get(f, length) || length > kMaxIdBytes) return std::nullopt;
    if (length == 0) continue;
    id.resize(length);
    if (std::fread(id.data(), 1, length, f) != length) return std::nullopt;
    const auto it = id_row.find(id);
    if (it == id_row.end() || row_seen[it->second]) return std::nullopt;
    row_seen[it->second] = true;
    loaded.label_row[label] = static_cast<std::uint32_t>(it->second);
  }
  for (const bool seen : row_seen) {
    if (!seen) return std::nullopt;
  }
  std::uint64_t byte_count = 0, hash = 0;
  if (!get(f, byte_count) || !get(f, hash)) return std::nullopt;
  // The rest of the file must be exactly the FAISS bytes; check before allocating for them.
  const long start = std::ftell(f);
  if (start < 0 || std::fseek(f, 0, SEEK_END) != 0) return std::nullopt;
  const long end = std::ftell(f);
  if (end < start || static_cast<std::uint64_t>(end - start) != byte_count ||
      std::fseek(f, start, SEEK_SET) != 0) {
    return std::nullopt;
  }
  std::vector<std::uint8_t> bytes(byte_count);
  if (std::fread(bytes.data(), 1, bytes.size(), f) != bytes.size() || bytes_hash(bytes) != hash) {
    return std::nullopt;
  }
  try {
    loaded.ann = ApproximateIndex::deserialize(bytes, rows.dims);
  } catch (const Error&) {
    return std::nullopt;
  }
  if (loaded.ann->added() != labels || static_cast<std::uint32_t>(loaded.ann->kind()) != kind) {
    return std::nullopt;
  }
  return loaded;
}

void remove_snapshot(const std::string& path) {
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
}

}  // namespace siamface::index
