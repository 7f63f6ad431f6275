#include <algorithm>
#include <iterator>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "siamface/errors.hpp"
#include "siamface/tracker.hpp"
#include "util/elapsed.hpp"

namespace siamface {

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

struct EmbeddingQueue::Impl {
  // One caller's faces; the caller waits on `done` (under the queue's mutex).
  struct Request {
    const Image* image = nullptr;
    const std::vector<Face>* faces = nullptr;
    std::vector<Embedding> out;
    std::exception_ptr error;
    bool done = false;
  };

  Engine engine;
  ChipOptions chip;
  std::size_t max_faces;
  WaitHooks hooks;
  mutable std::mutex mutex;
  std::condition_variable work;  // the worker: requests are waiting, or stop
  std::condition_variable done;  // the callers: a batch finished
  std::deque<Request*> waiting;
  bool stopping = false;
  Stats stats;
  std::thread worker;

  Impl(const Engine& e, const ChipOptions& c, std::size_t m, WaitHooks h)
      : engine(e), chip(c), max_faces(std::max<std::size_t>(1, m)), hooks(std::move(h)) {}

  // Everything waiting, up to max_faces faces (a larger single request goes alone).
  std::vector<Request*> take_batch() {
    std::vector<Request*> batch;
    std::size_t faces = 0;
    while (!waiting.empty()) {
      Request* next = waiting.front();
      if (!batch.empty() && faces + next->faces->size() > max_faces) break;
      faces += next->faces->size();
      batch.push_back(next);
      waiting.pop_front();
    }
    return batch;
  }

  void run_batch(const std::vector<Request*>& batch) {
    std::vector<const Image*> images;
    std::vector<Face> faces;
    for (const Request* r : batch) {
      for (const Face& face : *r->faces) {
        images.push_back(r->image);
        faces.push_back(face);
      }
    }
    const auto start = Clock::now();
    std::vector<Embedding> embeddings;
    std::exception_ptr error;
    try {
      embeddings = engine.embed_many(images, faces, chip);
    } catch (...) {
      error = std::current_exception();
    }
    const double ms = ms_since(start);
    const std::lock_guard lock(mutex);
    std::size_t next = 0;
    for (Request* r : batch) {
      r->error = error;
      if (!error) {
        r->out.assign(std::make_move_iterator(embeddings.begin() + static_cast<std::ptrdiff_t>(next)),
                      std::make_move_iterator(embeddings.begin() + static_cast<std::ptrdiff_t>(next + r->faces->size())));
      }
      next += r->faces->size();
      r->done = true;
    }
    ++stats.calls;
    stats.requests += static_cast<std::int64_t>(batch.size());
    stats.faces += static_cast<std::int64_t>(faces.size());
    stats.embed_ms += ms;
    done.notify_all();
  }

  void loop() {
    std::unique_lock lock(mutex);
    while (true) {
      work.wait(lock, [&] { return stopping || !waiting.empty(); });
      if (waiting.empty()) return;  // stopping, nothing left
      const std::vector<Request*> batch = take_batch();
      lock.unlock();
      run_batch(batch);
      lock.lock();
    }
  }
};

EmbeddingQueue::EmbeddingQueue(const Engine& engine, const ChipOptions& chip, std::size_t max_faces, WaitHooks hooks)
    : impl_(std::make_unique<Impl>(engine, chip, max_faces, std::move(hooks))) {
  impl_->worker = std::thread([this] { impl_->loop(); });
}

EmbeddingQueue::~EmbeddingQueue() {
  {
    const std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->work.notify_all();
  impl_->worker.join();
}

std::vector<Embedding> EmbeddingQueue::embed(const Image& image, const std::vector<Face>& faces) {
  if (faces.empty()) return {};
  Impl::Request request;
  request.image = &image;
  request.faces = &faces;
  {
    const std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) throw Error(ErrorCode::kInternal, "embedding queue: stopped");
    impl_->waiting.push_back(&request);
  }
  impl_->work.notify_one();
  if (impl_->hooks.before_wait) {
    try {
      impl_->hooks.before_wait();
    } catch (...) {  // the request is queued: it must be waited for whatever the hook did
    }
  }
  {
    std::unique_lock lock(impl_->mutex);
    impl_->done.wait(lock, [&] { return request.done; });
  }
  if (impl_->hooks.after_wait) impl_->hooks.after_wait();
  if (request.error) std::rethrow_exception(request.error);
  return std::move(request.out);
}

EmbeddingQueue::Stats EmbeddingQueue::stats() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace siamface
