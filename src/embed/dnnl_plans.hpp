// What the two oneDNN networks (dnnl_recognition_net.cpp, dnnl_mobile_face_net.cpp) share: a plan
// (primitives and tensor layouts) per batch size, built on first need, and per plan a free list of
// workspaces (the memory a call writes), so concurrent calls share only immutable state.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <opencv2/core.hpp>
#include <vector>

#include "util/omp_threads.hpp"

namespace siamface::dnnl_plans {

// Chips go through in batches of 8, 4, 2 and 1: at most four plans, each keeping its workspaces
// (1-2 MB per face), however many faces a photo has; batch 8 runs 10-20 % faster per face than 1.
inline constexpr std::size_t kMaxBatch = 8;

// Calls run_batch(first, count) over [0, total) in such batches, with OpenMP (oneDNN's runtime,
// whose thread count is per calling thread) on the engine's intra-op count, as OpenCV's DNN gets
// (set_intra_op_threads).
template <typename RunBatch>
void for_each_batch(std::size_t total, RunBatch&& run_batch) {
  const ScopedOmpThreads threads(cv::getNumThreads());
  for (std::size_t done = 0; done < total;) {
    std::size_t batch = kMaxBatch;
    while (batch > total - done) batch /= 2;
    run_batch(done, batch);
    done += batch;
  }
}

// Thread safety: lease() is safe from many threads; a Lease belongs to one call. BuildPlan runs
// under the set's lock, so it may also fill caches the plans share (reordered weights).
template <typename Plan, typename Workspace>
class PlanSet {
 public:
  using BuildPlan = std::function<std::shared_ptr<const Plan>(int batch)>;
  using MakeWorkspace = std::function<std::unique_ptr<Workspace>(const Plan&)>;

  PlanSet(BuildPlan build, MakeWorkspace make) : build_(std::move(build)), make_(std::move(make)) {}

 private:
  struct Entry {
    std::shared_ptr<const Plan> plan;
    std::mutex mutex;  // guards idle
    std::vector<std::unique_ptr<Workspace>> idle;
  };

 public:
  // A plan and a workspace of its own for one call; the workspace goes back to the free list when
  // the lease ends, on success or on error.
  class Lease {
   public:
    Lease(Entry& entry, std::unique_ptr<Workspace> workspace) : entry_(entry), workspace_(std::move(workspace)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      std::lock_guard<std::mutex> lock(entry_.mutex);
      entry_.idle.push_back(std::move(workspace_));
    }
    const Plan& plan() const { return *entry_.plan; }
    Workspace& workspace() { return *workspace_; }

   private:
    Entry& entry_;
    std::unique_ptr<Workspace> workspace_;
  };

  Lease lease(int batch) const {
    Entry* entry = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::unique_ptr<Entry>& slot = entries_[batch];
      if (!slot) {
        auto fresh = std::make_unique<Entry>();
        fresh->plan = build_(batch);
        slot = std::move(fresh);
      }
      entry = slot.get();
    }
    {
      std::lock_guard<std::mutex> lock(entry->mutex);
      if (!entry->idle.empty()) {
        std::unique_ptr<Workspace> workspace = std::move(entry->idle.back());
        entry->idle.pop_back();
        return Lease(*entry, std::move(workspace));
      }
    }
    return Lease(*entry, make_(*entry->plan));
  }

 private:
  BuildPlan build_;
  MakeWorkspace make_;
  mutable std::mutex mutex_;  // guards entries_ and whatever build_ fills
  mutable std::map<int, std::unique_ptr<Entry>> entries_;
};

}  // namespace siamface::dnnl_plans
