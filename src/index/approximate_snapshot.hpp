// The approximate index on disk, beside the gallery (e.g. gallery.db.faiss), so a node does not
// rebuild it at every start. The file is only a cache: it is adopted when it matches the rows in
// memory exactly and otherwise ignored (the caller rebuilds), never trusted.
//
// Layout (little-endian, as written by this machine):
//   "SFANNIDX" | u32 format version (1) | u32 ApproximateKind | u64 dims | u64 rows | u64 labels
//   | u64 checksum of every (face id, embedding) pair, independent of row order
//   | labels x (u32 length + face id bytes; length 0 for a removed label)
//   | u64 byte count + u64 hash of the FAISS bytes | FAISS's own serialisation (faiss::write_index)
// The hash guards FAISS's reader, which trusts lengths and neighbour ids it reads.
// Thread safety: free functions; the caller keeps the rows unchanged while they run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/approximate_index.hpp"

namespace siamface::index {

struct SnapshotRows {
  std::size_t dims = 0;
  const float* matrix = nullptr;  // rows x dims
  const std::vector<std::string>* row_id = nullptr;
};

struct LoadedSnapshot {
  std::unique_ptr<ApproximateIndex> ann;
  std::vector<std::uint32_t> label_row;  // UINT32_MAX for a removed label
};

// Order-independent: a sum of one 64-bit hash per (id, embedding bits).
std::uint64_t rows_checksum(const SnapshotRows& rows);

// Writes to a temporary file in the same folder (mode 0600: embeddings are biometric data), then
// renames it over `path`. Throws Error(kIo) naming the path on failure. label_row: every FAISS
// label's row (all labels must be in `ann`), UINT32_MAX for removed ones.
void write_snapshot(const std::string& path, const SnapshotRows& rows, const ApproximateIndex& ann,
                    const std::vector<std::uint32_t>& label_row);

// nullopt when the file is absent, of another format version or dimension, stale (row count or
// checksum differ, a label names an unknown face) or corrupt; never throws for a bad file.
std::optional<LoadedSnapshot> read_snapshot(
    const std::string& path, const SnapshotRows& rows,
    const std::unordered_map<std::string, std::size_t>& id_row);

void remove_snapshot(const std::string& path);  // best effort; absent is fine

}  // namespace siamface::index
