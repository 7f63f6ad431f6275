// The MobileFaceNet on oneDNN: the ONNX file read by OpenCV's importer (graph and weights; the
// exporter already folded the batch norms into the convolutions) and run by DnnlGraph
// (dnnl_opencv_graph.hpp), which turns each PReLU into an in-place prelu step after its
// convolution and each residual add into that convolution's sum post-op onto the shortcut. This
// file adds the preprocessing, the batching and the L2 normalisation, as mobile_face_net.cpp.
//
// Thread safety: as DnnlGraph: the graph is immutable once built; each call leases its own workspace.
#include "embed/dnnl_mobile_face_net.hpp"

#include <opencv2/dnn.hpp>
#include <opencv2/dnn/shape_utils.hpp>
#include <string>
#include <utility>
#include <vector>

#include "align/arcface_chip.hpp"
#include "model/dnnl_opencv_graph.hpp"
#include "model/dnnl_plans.hpp"
#include "util/batches.hpp"
#include "model/dnn_flops.hpp"
#include "model/net_pool.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

const cv::dnn::MatShape kInputShape = {1, 3, kArcFaceChipSize, kArcFaceChipSize};

class DnnlMobileFaceNet final : public MobileFaceNet {
 public:
  DnnlMobileFaceNet(std::unique_ptr<DnnlGraph> graph, std::int64_t flops) : graph_(std::move(graph)), flops_(flops) {}

  std::vector<std::vector<float>> embed(const std::vector<cv::Mat>& chips) const override {
    check_mobile_face_net_chips(chips);
    std::vector<std::vector<float>> result;
    result.reserve(chips.size());
    for_each_batch(chips.size(), [&](std::size_t first, std::size_t count) {
      const std::vector<cv::Mat> batch(chips.begin() + static_cast<std::ptrdiff_t>(first),
                                       chips.begin() + static_cast<std::ptrdiff_t>(first + count));
      const cv::Mat out = graph_->run(mobile_face_net_blob(batch)).at(0);  // N x 512, or N x 512 x 1 x 1
      const float* values = out.ptr<float>();
      for (std::size_t i = 0; i < count; ++i) result.push_back(unit_length(values + i * kMobileFaceNetDims));
    });
    return result;
  }

  std::int64_t flops_per_chip() const override { return flops_; }
  const char* backend_name() const override { return "oneDNN f32"; }

 private:
  std::unique_ptr<DnnlGraph> graph_;
  std::int64_t flops_;
};

}  // namespace

std::unique_ptr<MobileFaceNet> make_dnnl_mobile_face_net(const std::filesystem::path& models_dir) {
  const std::filesystem::path path = models_dir / kMobileFaceNetFile;
  const std::vector<uchar> bytes = read_model_bytes(path);
  try {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(bytes);
    const std::vector<std::string> outputs = net.getUnconnectedOutLayersNames();
    if (outputs.size() != 1) {
      throw Error(ErrorCode::kModelCorrupt,
                  path.string() + ": the graph has " + std::to_string(outputs.size()) + " outputs, expected 1");
    }
    std::vector<cv::dnn::MatShape> in_shapes, out_shapes;
    net.getLayerShapes(kInputShape, net.getLayerId(outputs[0]), in_shapes, out_shapes);
    if (out_shapes.size() != 1 || cv::dnn::total(out_shapes[0]) != kMobileFaceNetDims) {
      throw Error(ErrorCode::kModelCorrupt,
                  path.string() + ": the output is not " + std::to_string(kMobileFaceNetDims) + " values");
    }
    // Builds the batch-1 plan, so unsupported layers or primitives surface now (kModelCorrupt).
    std::unique_ptr<DnnlGraph> graph = DnnlGraph::from(net, kInputShape, outputs, path.string());
    return std::make_unique<DnnlMobileFaceNet>(std::move(graph), count_flops(net, kInputShape));
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kModelCorrupt, path.string() + ": OpenCV cannot read it as a 1x3x112x112 network (" +
                                              std::string(e.err) + ")");
  }
}

}  // namespace siamface
