#include "server/inference_gate.hpp"

#include <algorithm>
#include <cmath>

namespace siamface::server {

InferenceGate::InferenceGate(int concurrent, int queue_limit)
    : concurrent_(std::max(1, concurrent)), queue_limit_(std::max(0, queue_limit)) {}

InferenceGate::Slot::~Slot() {
  if (gate_ != nullptr) gate_->leave(entered_);
}

std::optional<InferenceGate::Slot> InferenceGate::enter(std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mutex_);
  // Nobody waiting and a free place: run now (a newcomer never overtakes the line).
  if (line_.empty() && running_ < concurrent_) {
    ++running_;
    return Slot(this, std::chrono::steady_clock::now());
  }
  if (static_cast<int>(line_.size()) >= queue_limit_) {
    ++refused_;
    return std::nullopt;
  }
  const std::uint64_t ticket = next_ticket_++;
  line_.push_back(ticket);
  const bool my_turn = turn_.wait_for(lock, max_wait, [&] { return line_.front() == ticket && running_ < concurrent_; });
  line_.erase(std::find(line_.begin(), line_.end(), ticket));
  if (!my_turn) {
    ++refused_;
    turn_.notify_all();  // the next in line may be free to go now
    return std::nullopt;
  }
  ++running_;
  turn_.notify_all();  // a second free place lets the next one go too
  return Slot(this, std::chrono::steady_clock::now());
}

void InferenceGate::leave(std::chrono::steady_clock::time_point entered) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - entered).count();
  {
    const std::lock_guard lock(mutex_);
    --running_;
    recent_run_seconds_ = 0.8 * recent_run_seconds_ + 0.2 * seconds;
  }
  turn_.notify_all();
}

int InferenceGate::retry_after_seconds() const {
  const std::lock_guard lock(mutex_);
  const double backlog = static_cast<double>(line_.size() + static_cast<std::size_t>(running_));
  const double seconds = backlog * recent_run_seconds_ / static_cast<double>(concurrent_);
  return std::max(1, static_cast<int>(std::ceil(seconds)));
}

InferenceGate::Counts InferenceGate::counts() const {
  const std::lock_guard lock(mutex_);
  return {running_, static_cast<int>(line_.size()), refused_};
}

}  // namespace siamface::server
