// Average-linkage clustering by the nearest-neighbour chain (Murtagh 1983): O(n^2) time and a
// condensed distance matrix, exact for UPGMA because average linkage is reducible. With a
// distance limit the chain stops early: a reciprocal pair at or past the limit is final.
#include "siamface/clustering.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <numeric>
#include <tuple>

#include "siamface/errors.hpp"

namespace siamface {

namespace {

class CondensedDistances {
 public:
  explicit CondensedDistances(std::size_t n) : n_(n), values_(n < 2 ? 0 : n * (n - 1) / 2) {}
  float& at(std::size_t i, std::size_t j) {
    if (i > j) std::swap(i, j);
    return values_[i * n_ - i * (i + 1) / 2 + (j - i - 1)];
  }

 private:
  std::size_t n_;
  std::vector<float> values_;
};

}  // namespace

std::vector<std::size_t> cluster_average_linkage(std::span<const Embedding> embeddings, float threshold) {
  const std::size_t n = embeddings.size();
  for (const Embedding& e : embeddings) {
    if (e.size() != embeddings.front().size()) {
      throw Error(ErrorCode::kInvalidArgument, "clustering: embeddings of different sizes (" +
                                                   std::to_string(e.size()) + " and " +
                                                   std::to_string(embeddings.front().size()) + ")");
    }
  }
  CondensedDistances d(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) d.at(i, j) = euclidean_distance(embeddings[i], embeddings[j]);
  }
  std::vector<std::size_t> size(n, 1);
  std::vector<std::size_t> parent(n);  // merged-into, for labelling
  std::iota(parent.begin(), parent.end(), 0);
  std::vector<char> active(n, 1);      // still mergeable
  std::size_t active_count = n;
  std::vector<std::size_t> chain;
  while (active_count > 1) {
    if (chain.empty()) {
      chain.push_back(static_cast<std::size_t>(std::find(active.begin(), active.end(), 1) - active.begin()));
    }
    const std::size_t a = chain.back();
    const std::size_t previous = chain.size() >= 2 ? chain[chain.size() - 2] : n;
    // Nearest active neighbour; ties go to the chain's previous element, then the lower index.
    std::size_t nearest = n;
    float best = std::numeric_limits<float>::infinity();
    if (previous != n) {
      nearest = previous;
      best = d.at(a, previous);
    }
    for (std::size_t c = 0; c < n; ++c) {
      if (c == a || !active[c]) continue;
      const float dist = d.at(a, c);
      if (dist < best) {
        best = dist;
        nearest = c;
      }
    }
    if (nearest == n) {  // no finite distance to anyone (cannot happen for validated embeddings)
      chain.pop_back();
      active[a] = 0;
      --active_count;
      continue;
    }
    if (nearest != previous) {
      chain.push_back(nearest);
      continue;
    }
    // a and previous are reciprocal nearest neighbours.
    chain.pop_back();
    chain.pop_back();
    if (!(best < threshold)) {
      // Nothing will come nearer to either (reducibility): both are final.
      active[a] = active[previous] = 0;
      active_count -= 2;
      continue;
    }
    const std::size_t keep = std::min(a, previous);
    const std::size_t gone = std::max(a, previous);
    for (std::size_t k = 0; k < n; ++k) {
      if (!active[k] || k == keep || k == gone) continue;
      d.at(keep, k) = (static_cast<float>(size[keep]) * d.at(keep, k) + static_cast<float>(size[gone]) * d.at(gone, k)) /
                      static_cast<float>(size[keep] + size[gone]);
    }
    size[keep] += size[gone];
    parent[gone] = keep;
    active[gone] = 0;
    --active_count;
    // A merged cluster's distances changed: the chain below it stays valid (reducibility), but
    // an element that pointed at `keep` or `gone` is re-examined when it comes back up.
  }
  // Label by root, numbered in order of each cluster's first member.
  auto root = [&](std::size_t i) {
    while (parent[i] != i) i = parent[i];
    return i;
  };
  std::vector<std::size_t> labels(n);
  std::map<std::size_t, std::size_t> label_of_root;
  for (std::size_t i = 0; i < n; ++i) {
    const auto [it, inserted] = label_of_root.emplace(root(i), label_of_root.size());
    labels[i] = it->second;
  }
  return labels;
}

std::vector<std::int64_t> carry_cluster_ids(std::span<const std::size_t> labels,
                                            std::span<const std::optional<std::int64_t>> previous,
                                            std::int64_t& next_id) {
  if (labels.size() != previous.size()) {
    throw Error(ErrorCode::kInvalidArgument, "carry_cluster_ids: one previous id per label is required");
  }
  const std::size_t label_count = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end()) + 1;
  std::map<std::pair<std::size_t, std::int64_t>, std::size_t> overlap;  // (label, old id) -> faces
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (previous[i]) ++overlap[{labels[i], *previous[i]}];
  }
  std::vector<std::tuple<std::size_t, std::int64_t, std::size_t>> pairs;  // (faces, old id, label)
  for (const auto& [key, faces] : overlap) pairs.emplace_back(faces, key.second, key.first);
  std::sort(pairs.begin(), pairs.end(), [](const auto& x, const auto& y) {
    if (std::get<0>(x) != std::get<0>(y)) return std::get<0>(x) > std::get<0>(y);
    if (std::get<1>(x) != std::get<1>(y)) return std::get<1>(x) < std::get<1>(y);
    return std::get<2>(x) < std::get<2>(y);
  });
  std::vector<std::optional<std::int64_t>> ids(label_count);
  std::map<std::int64_t, bool> used;
  for (const auto& [faces, old_id, label] : pairs) {
    if (ids[label] || used[old_id]) continue;
    ids[label] = old_id;
    used[old_id] = true;
  }
  std::vector<std::int64_t> out(label_count);
  for (std::size_t label = 0; label < label_count; ++label) out[label] = ids[label] ? *ids[label] : next_id++;
  return out;
}

std::vector<Embedding> cluster_centroids(std::span<const Embedding> embeddings, std::span<const std::size_t> labels) {
  const std::size_t label_count = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end()) + 1;
  std::vector<Embedding> sums(label_count);
  std::vector<std::size_t> counts(label_count, 0);
  for (std::size_t i = 0; i < embeddings.size(); ++i) {
    Embedding& sum = sums[labels[i]];
    if (sum.empty()) sum.assign(embeddings[i].size(), 0.0F);
    for (std::size_t k = 0; k < sum.size(); ++k) sum[k] += embeddings[i][k];
    ++counts[labels[i]];
  }
  for (std::size_t label = 0; label < label_count; ++label) {
    for (float& v : sums[label]) v /= static_cast<float>(counts[label]);
  }
  return sums;
}

}  // namespace siamface
