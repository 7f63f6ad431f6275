// How the networks split a photo's faces into batches (the embedding nets, the landmark net).
#pragma once

#include <cstddef>

namespace siamface {

// Faces go through in batches of 8, 4, 2 and 1: at most four batch shapes per network, each
// keeping its workspaces, however many faces a photo has; larger batches cost less per face for
// the embedding nets (docs/speed.md, "Embedding").
inline constexpr std::size_t kMaxBatch = 8;

// Calls run_batch(first, count) over [0, total) in such batches.
template <typename RunBatch>
void for_each_batch(std::size_t total, RunBatch&& run_batch) {
  for (std::size_t done = 0; done < total;) {
    std::size_t batch = kMaxBatch;
    while (batch > total - done) batch /= 2;
    run_batch(done, batch);
    done += batch;
  }
}

}  // namespace siamface
