// A pool of inference sessions over one immutable model.
// cv::dnn::Net::forward mutates its internal buffers, so a Net cannot be shared between
// threads. The model's weights stay shared and immutable; each concurrent caller leases its
// own Net, built on first need by the model's factory and reused afterwards.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <opencv2/dnn.hpp>
#include <vector>

#include "siamface/errors.hpp"

namespace siamface {

// Thread safety: lease() is safe from many threads; a Lease belongs to one thread.
class NetPool {
 public:
  using Factory = std::function<cv::dnn::Net()>;

  explicit NetPool(Factory factory) : factory_(std::move(factory)) {}

  class Lease {
   public:
    Lease(NetPool* pool, std::unique_ptr<cv::dnn::Net> net) : pool_(pool), net_(std::move(net)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (net_) pool_->give_back(std::move(net_));
    }
    cv::dnn::Net& operator*() { return *net_; }
    cv::dnn::Net* operator->() { return net_.get(); }

   private:
    NetPool* pool_;
    std::unique_ptr<cv::dnn::Net> net_;
  };

  Lease lease() const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!idle_.empty()) {
        auto net = std::move(idle_.back());
        idle_.pop_back();
        return Lease(const_cast<NetPool*>(this), std::move(net));
      }
    }
    auto net = std::make_unique<cv::dnn::Net>(factory_());
    return Lease(const_cast<NetPool*>(this), std::move(net));
  }

 private:
  void give_back(std::unique_ptr<cv::dnn::Net> net) const {
    std::lock_guard<std::mutex> lock(mutex_);
    idle_.push_back(std::move(net));
  }

  Factory factory_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<cv::dnn::Net>> idle_;
};

// A model file's bytes. Throws Error(kModelMissing) when it cannot be read.
inline std::vector<uchar> read_model_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kModelMissing, "cannot read model file " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A pool over an ONNX graph that OpenCV loads as it ships (MobileFaceNet, RFB-320): the file's
// bytes, read once (here, or by a caller that needs them too), are shared by every session the
// pool builds. Throws
// Error(kModelMissing) when the file cannot be read; a graph OpenCV cannot parse throws
// cv::Exception from the first lease().
inline NetPool onnx_net_pool(std::shared_ptr<const std::vector<uchar>> bytes) {
  return NetPool([bytes] {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(*bytes);
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    return net;
  });
}

inline NetPool onnx_net_pool(const std::filesystem::path& path) {
  return onnx_net_pool(std::make_shared<const std::vector<uchar>>(read_model_bytes(path)));
}

}  // namespace siamface
