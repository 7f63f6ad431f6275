// Grouping unknown faces: average-linkage agglomerative clustering with a distance limit, and
// the rule that keeps cluster ids stable across re-clustering (docs/unknown-faces.md).
// Thread safety: pure functions of their inputs; safe to call concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "siamface/types.hpp"

namespace siamface {

// Labels 0..k-1, one per embedding: clusters are merged while the average Euclidean distance
// between their members is below `threshold` (UPGMA, nearest-neighbour chain). Deterministic:
// the same input in the same order gives the same labels; labels are numbered by each
// cluster's first member. Memory: n*(n-1)/2 floats (200 MB for 10,000 faces).
// Throws Error(kInvalidArgument) for embeddings of different sizes.
std::vector<std::size_t> cluster_average_linkage(std::span<const Embedding> embeddings, float threshold);

// Persistent ids: `labels` are the new clusters, `previous[i]` the id face i had before (none
// for a face not clustered yet). New clusters take, greedily by the number of faces they share
// (ties: the smaller old id, then the smaller label), the id of the old cluster they overlap
// most; each old id goes to at most one new cluster. The others get next_id, next_id+1, ...
// (next_id is advanced). Returns one id per label.
std::vector<std::int64_t> carry_cluster_ids(std::span<const std::size_t> labels,
                                            std::span<const std::optional<std::int64_t>> previous,
                                            std::int64_t& next_id);

// The mean of each label's embeddings.
std::vector<Embedding> cluster_centroids(std::span<const Embedding> embeddings, std::span<const std::size_t> labels);

}  // namespace siamface
