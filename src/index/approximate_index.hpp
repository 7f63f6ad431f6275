// An approximate nearest-neighbour index (FAISS) over rows of `dims` floats, used by
// EmbeddingIndex above EmbeddingIndexOptions::approximate_min_rows to find candidates that it then
// re-ranks exactly. No FAISS type appears here (pimpl), so the rest of the library and the
// benchmark build without FAISS headers.
//
// Rows are named by labels 0, 1, 2, ... in the order they were added (FAISS's own ids); the
// caller maps labels to its rows and tells search which labels are still alive (removals are
// marked and filtered, never deleted from the graph; the caller rebuilds when too many are dead).
//
// Thread safety: const methods (search, write, memory_bytes) may run concurrently with each
// other; add needs exclusive access. Every FAISS call runs with exactly the OpenMP thread count
// the caller passes (set on the calling thread and restored afterwards), so FAISS never starts
// threads the caller did not ask for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "util/omp_threads.hpp"

namespace siamface::index {

// kHnsw: a graph (FAISS IndexHNSWSQ, 8-bit scalar-quantised storage): incremental adds need no
// training beyond the quantiser's value ranges and keep their quality as the set grows; the
// default (docs/search.md has the measurements that chose it).
// kIvf: inverted lists over k-means centroids (IndexIVFScalarQuantizer, 8-bit): faster to build,
// but its centroids are fixed at the first add, so it degrades as the set grows; kept for the
// benchmark's comparison.
enum class ApproximateKind : std::uint32_t { kHnsw = 1, kIvf = 2 };

const char* to_string(ApproximateKind kind);

struct ApproximateParams {
  ApproximateKind kind = ApproximateKind::kHnsw;
  int hnsw_neighbors = 16;       // M: links per node (2M on the bottom layer)
  int hnsw_build_effort = 64;    // efConstruction
  int hnsw_search_effort = 512;  // efSearch (docs/search.md: the sweep that chose it)
  std::size_t ivf_lists = 0;     // 0: 4 * sqrt(rows of the first add), within [16, 65536]
  std::size_t ivf_probes = 24;   // lists visited per query
};

// Decides whether a label is still alive (not removed since it was added).
using LabelFilter = std::function<bool(std::int64_t label)>;

class ApproximateIndex {
 public:
  ApproximateIndex(std::size_t dims, const ApproximateParams& params = {});
  ~ApproximateIndex();
  ApproximateIndex(const ApproximateIndex&) = delete;
  ApproximateIndex& operator=(const ApproximateIndex&) = delete;

  // Appends n rows, labelled added()..added()+n-1. The first call also trains the quantiser
  // (and, for kIvf, the centroids) on these rows, so it should be a representative batch.
  void add(const float* rows, std::size_t n, int threads);

  // Up to k labels per query, nearest first by the approximate distance; -1 pads a short list.
  // labels_out holds nq * k values. `alive` (may be empty) filters removed labels during the
  // search, so k alive labels come back whenever the index holds them.
  void search(const float* queries, std::size_t nq, std::size_t k, const LabelFilter& alive,
              int threads, std::int64_t* labels_out) const;

  // efSearch for later searches (kHnsw; the benchmark's sweep). Needs exclusive access.
  void set_search_effort(int effort);

  std::size_t added() const;  // labels issued so far (alive or not)
  std::size_t dimensions() const;
  ApproximateKind kind() const;
  std::size_t memory_bytes() const;  // graph/lists + quantised codes

  // FAISS's own serialisation of the index. read throws siamface::Error(kGallery) for bytes FAISS
  // rejects or a different dimension (the snapshot file checksums the bytes before this).
  std::vector<std::uint8_t> serialize() const;
  static std::unique_ptr<ApproximateIndex> deserialize(const std::vector<std::uint8_t>& bytes,
                                                       std::size_t dims,
                                                       const ApproximateParams& params = {});

 private:
  struct Impl;
  explicit ApproximateIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace siamface::index
