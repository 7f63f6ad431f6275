// The in-memory exact search over embeddings, usable without a gallery (the gallery keeps one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "siamface/types.hpp"

namespace siamface {

// How one identity's distance to a query is computed from its stored embeddings:
//  kMin:  the smallest Euclidean distance to any of its embeddings (nearest neighbour;
//         robust when one person's photos differ a lot). IdentityMatch::face_id is that face.
//  kMean: the Euclidean distance to the mean (centroid) of its embeddings (face-api's
//         "LabeledFaceDescriptors" style; smoother, one outlier photo weighs less).
//         IdentityMatch::face_id is empty.
enum class IdentityDistance { kMin, kMean };

const char* to_string(IdentityDistance mode);
IdentityDistance parse_identity_distance(const std::string& name);  // "min" | "mean"; throws Error

struct IdentityMatch {
  std::string person;
  float distance = 0.0F;  // Euclidean, smaller is closer
  std::string face_id;    // the closest face for kMin; empty for kMean
};

struct EmbeddingIndexOptions {
  bool use_simd = true;  // AVX2+FMA when the CPU has it (checked at run time), else scalar
  int threads = 0;       // 0: std::thread::hardware_concurrency(); 1: single-threaded
  std::size_t parallel_min_rows = 32768;  // below this many rows a query runs on one thread
  // From this many rows on, searches take candidates from an approximate (FAISS HNSW) index and
  // re-rank them exactly; below it every search is exact. 0: always exact. docs/search.md.
  std::size_t approximate_min_rows = 100'000;
};

// All embeddings in one contiguous row-major float matrix (N x dimensions(), fixed by the first row); searches are
// exact (brute force), SIMD, and split over threads for large N. Usable without a gallery.
// Thread safety: const methods may run concurrently with each other; mutating methods
// (add/remove/rename/clear/reserve) need exclusive access (Gallery wraps a shared_mutex).
class EmbeddingIndex {
 public:
  explicit EmbeddingIndex(const EmbeddingIndexOptions& options = {});
  ~EmbeddingIndex();
  EmbeddingIndex(EmbeddingIndex&&) noexcept;
  EmbeddingIndex& operator=(EmbeddingIndex&&) noexcept;
  EmbeddingIndex(const EmbeddingIndex&) = delete;
  EmbeddingIndex& operator=(const EmbeddingIndex&) = delete;

  // Throws Error(kInvalidArgument) for an empty or already present face id, an empty person or
  // a non-finite embedding.
  void add(const std::string& face_id, const std::string& person, const Embedding& embedding);
  bool remove(const std::string& face_id);             // false when absent
  std::size_t remove_person(const std::string& person);  // number of rows removed
  std::size_t rename_person(const std::string& from, const std::string& to);  // merges
  void clear();
  void reserve(std::size_t rows);

  std::size_t size() const;           // rows (embeddings)
  std::size_t dimensions() const;     // floats per embedding: fixed by the first add, 0 while empty
  std::size_t person_count() const;   // identities with at least one row
  bool contains(const std::string& face_id) const;
  // The stored embedding `match` was measured against: its face's row when it names one (kMin),
  // else its person's mean (kMean). Empty when the index holds neither any more.
  Embedding matched_embedding(const IdentityMatch& match) const;
  // Approximate bytes held in all (matrix, face ids, identity slots, centroids, lookups, and the
  // approximate index once built).
  std::size_t memory_bytes() const;
  // Changes with every change of the rows (add, remove, rename, clear); two states of any
  // indexes in this process never share a value, so a saved copy can tell it is stale.
  std::uint64_t revision() const;

  // Top-k identities, closest first (ties by name). k == 0: every identity.
  std::vector<IdentityMatch> search(const Embedding& query, std::size_t k,
                                    IdentityDistance mode = IdentityDistance::kMin) const;
  // One result list per query; faster than looping (rows are read once per group of queries).
  std::vector<std::vector<IdentityMatch>> search_batch(
      std::span<const Embedding> queries, std::size_t k,
      IdentityDistance mode = IdentityDistance::kMin) const;

  const EmbeddingIndexOptions& options() const;
  static bool simd_supported();  // this CPU runs the AVX2 kernel

  // The approximate index, saved beside a gallery file (docs/search.md). save_approximate builds
  // it when the size calls for one and writes it atomically (mode 0600), or removes a file left
  // from a larger gallery. load_approximate adopts the file only when it matches these rows
  // exactly (count and a checksum of ids and embeddings), returning true; an absent, stale or
  // corrupt file returns false and the index is rebuilt here when the size calls for one. Both
  // need exclusive access. approximate_active(): searches now use the approximate index.
  void save_approximate(const std::string& path);
  bool load_approximate(const std::string& path);
  bool approximate_active() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace siamface
