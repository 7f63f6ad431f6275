// What the two oneDNN runners (dnnl_recognition_net.cpp, dnnl_opencv_graph.cpp) share: a plan
// (primitives and tensor layouts) per batch size, built on first need, and per plan a free list of
// workspaces (the memory a call writes), so concurrent calls share only immutable state.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <opencv2/core.hpp>
#include <vector>

#include "util/omp_threads.hpp"

namespace siamface::dnnl_plans {

// oneDNN runs on OpenMP, whose thread count is per calling thread: every call that builds or runs
// primitives does so on the engine's intra-op count, as OpenCV's DNN does (set_intra_op_threads).
class EngineThreads {
 public:
  EngineThreads() : scope_(cv::getNumThreads()) {}

 private:
  ScopedOmpThreads scope_;
};

// Thread safety: lease() is safe from many threads; a Lease belongs to one call. BuildPlan runs
// under the set's lock, so it may also fill caches the plans share (reordered weights).
template <typename Plan, typename Workspace>
class PlanSet {
 public:
  using BuildPlan = std::function<std::shared_ptr<const Plan>(int batch)>;  // runs on the calling thread's count
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

  // A plan for `batch` chips built for the calling thread's OpenMP thread count: oneDNN splits a
  // primitive's work for the count it was created under, and runs it far slower under another
  // (docs/speed.md, "Workers and threads"). Callers lease and run inside
  // an EngineThreads scope.
  Lease lease(int batch) const {
    Entry* entry = nullptr;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      std::unique_ptr<Entry>& slot = entries_[{batch, omp_get_max_threads()}];
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
  mutable std::map<std::pair<int, int>, std::unique_ptr<Entry>> entries_;  // by batch and thread count
};

// One step of a plan: a oneDNN primitive or, for the few things oneDNN does not fit (the ResNet's
// residualDown join), a loop on plain f32 tensors (`host`).
struct Step {
  std::string name;  // for debugging: the layer and oneDNN's implementation
  dnnl::primitive primitive;                                    // unset for host steps
  std::vector<std::pair<int, int>> tensor_args;                 // (DNNL_ARG_*, tensor id)
  std::vector<std::pair<int, dnnl::memory>> constant_args;      // shared weights, biases, slopes
  std::function<void(const std::vector<dnnl::memory>&)> host;  // host step on workspace tensors
};

// Per-call state of one plan; owned by one embed() call at a time.
struct Workspace {
  dnnl::stream stream;
  dnnl::memory arena;  // when the plan packs its tensors into one buffer
  std::vector<dnnl::memory> tensors;
  std::vector<std::unordered_map<int, dnnl::memory>> args;  // per step, for primitive::execute
};

// A plain N x C x H x W f32 tensor: the networks' inputs, host steps and outputs.
inline dnnl::memory::desc plain_f32(dnnl::memory::dim n, dnnl::memory::dim c, dnnl::memory::dim h, dnnl::memory::dim w) {
  return dnnl::memory::desc({n, c, h, w}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nchw);
}

// A constant tensor (weights, PReLU slopes) in each layout a plan asks for, reordered once from the
// model's own values (which must outlive it). Used while plans are built, under the PlanSet's lock.
class ConstantTensor {
 public:
  ConstantTensor(const dnnl::engine& engine, const dnnl::memory::desc& plain, const float* values)
      : engine_(engine), plain_(plain), values_(values) {}

  dnnl::memory in_layout(const dnnl::memory::desc& desc) {
    for (const dnnl::memory& m : layouts_) {
      if (m.get_desc() == desc) return m;
    }
    dnnl::memory user(plain_, engine_, const_cast<float*>(values_));
    dnnl::memory out(desc, engine_);
    dnnl::stream stream(engine_);
    dnnl::reorder(user, out).execute(stream, user, out);
    stream.wait();
    layouts_.push_back(out);
    return out;
  }

 private:
  dnnl::engine engine_;
  dnnl::memory::desc plain_;
  const float* values_;
  std::vector<dnnl::memory> layouts_;
};

// `values` copied into a 1-D f32 tensor (a convolution's bias).
inline dnnl::memory f32_vector(const dnnl::engine& engine, const std::vector<float>& values) {
  dnnl::memory m({{static_cast<dnnl::memory::dim>(values.size())}, dnnl::memory::data_type::f32,
                  dnnl::memory::format_tag::x},
                 engine);
  std::copy(values.begin(), values.end(), static_cast<float*>(m.get_data_handle()));
  return m;
}

// Each layer's weights (in every layout a plan asks for, ConstantTensor) and bias, shared by all the
// plans of one network. Filled while plans are built, under the PlanSet's lock.
class LayerConstants {
 public:
  // `plain`: the weights' own layout (an empty desc for a layer without weights); `weights` must
  // outlive this. An empty `bias`: none.
  void add(const dnnl::engine& engine, const dnnl::memory::desc& plain, const float* weights,
           const std::vector<float>& bias) {
    weights_.emplace_back(engine, plain, weights);
    biases_.push_back(bias.empty() ? dnnl::memory() : f32_vector(engine, bias));
  }

  dnnl::memory weights(std::size_t layer, const dnnl::memory::desc& desc) { return weights_[layer].in_layout(desc); }
  const dnnl::memory& bias(std::size_t layer) const { return biases_[layer]; }

 private:
  std::vector<ConstantTensor> weights_;
  std::vector<dnnl::memory> biases_;
};

// What both networks' plan builders do alike: tensors by id, steps with the largest scratchpad
// noted (user-mode scratchpad, one per workspace), and reorders between layouts. `Plan` has
// `tensors`, `steps`, `scratchpad_bytes` and `batch`.
template <typename Plan>
class PlanBuilderBase {
 protected:
  PlanBuilderBase(const dnnl::engine& engine, int batch) : engine_(engine), plan_(std::make_shared<Plan>()) {
    plan_->batch = batch;
    attr_.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  }

  int add_tensor(const dnnl::memory::desc& desc) {
    plan_->tensors.push_back(desc);
    return static_cast<int>(plan_->tensors.size()) - 1;
  }

  const dnnl::memory::desc& desc_of(int tensor) const { return plan_->tensors[static_cast<std::size_t>(tensor)]; }

  void add_step(Step step, const dnnl::memory::desc& scratchpad) {
    plan_->scratchpad_bytes = std::max(plan_->scratchpad_bytes, scratchpad.get_size());
    plan_->steps.push_back(std::move(step));
  }

  // `tensor` in layout `desc`: itself, or a new tensor filled by a reorder (which also converts
  // between f32 and bf16).
  int as_layout(int tensor, const dnnl::memory::desc& desc) {
    if (desc_of(tensor) == desc) return tensor;
    const int out = add_tensor(desc);
    dnnl::reorder::primitive_desc pd(engine_, desc_of(tensor), engine_, desc, attr_);
    Step step;
    step.name = "reorder";
    step.primitive = dnnl::reorder(pd);
    step.tensor_args = {{DNNL_ARG_FROM, tensor}, {DNNL_ARG_TO, out}};
    add_step(std::move(step), pd.scratchpad_desc());
    return out;
  }

  dnnl::engine engine_;
  dnnl::primitive_attr attr_;  // user-mode scratchpad
  std::shared_ptr<Plan> plan_;
};

}  // namespace siamface::dnnl_plans
