// The MobileFaceNet on oneDNN: the ONNX file read by OpenCV's importer (graph and weights; the
// exporter already folded the batch norms into the convolutions) and run by DnnlGraph
// (dnnl_opencv_graph.hpp), which turns each PReLU into an in-place prelu step after its
// convolution and each residual add into that convolution's sum post-op onto the shortcut. This
// file adds the preprocessing, the batching and the L2 normalisation, as mobile_face_net.cpp.
//
// Thread safety: as DnnlGraph: the graph is immutable once built; each call leases its own workspace.
#include "embed/dnnl_mobile_face_net.hpp"

#include <cmath>
#include <fstream>
#include <iterator>
#include <opencv2/dnn.hpp>
#include <opencv2/dnn/shape_utils.hpp>
#include <string>
#include <utility>
#include <vector>

#include "align/arcface_chip.hpp"
#include "embed/dnnl_opencv_graph.hpp"
#include "embed/dnnl_plans.hpp"
#include "model/dnn_flops.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

const cv::dnn::MatShape kInputShape = {1, 3, kArcFaceChipSize, kArcFaceChipSize};

void check_chips(const std::vector<cv::Mat>& chips) {
  for (std::size_t i = 0; i < chips.size(); ++i) {
    const cv::Mat& chip = chips[i];
    if (chip.type() != CV_8UC3 || chip.rows != kArcFaceChipSize || chip.cols != kArcFaceChipSize) {
      throw Error(ErrorCode::kInvalidArgument,
                  "face chip " + std::to_string(i) + " must be a 112x112 8-bit BGR image for the MobileFaceNet");
    }
  }
}

class DnnlMobileFaceNet final : public MobileFaceNet {
 public:
  DnnlMobileFaceNet(std::unique_ptr<DnnlGraph> graph, std::int64_t flops) : graph_(std::move(graph)), flops_(flops) {}

  std::vector<std::vector<float>> embed(const std::vector<cv::Mat>& chips) const override {
    check_chips(chips);
    std::vector<std::vector<float>> result;
    result.reserve(chips.size());
    dnnl_plans::for_each_batch(chips.size(), [&](std::size_t first, std::size_t count) {
      const std::vector<cv::Mat> batch(chips.begin() + static_cast<std::ptrdiff_t>(first),
                                       chips.begin() + static_cast<std::ptrdiff_t>(first + count));
      // (pixel - 127.5) / 128, BGR planes, as mobile_face_net.cpp.
      const cv::Mat blob = cv::dnn::blobFromImages(batch, 1.0 / 128.0, cv::Size(kArcFaceChipSize, kArcFaceChipSize),
                                                   cv::Scalar::all(127.5), /*swapRB=*/false, /*crop=*/false, CV_32F);
      const cv::Mat out = graph_->run(blob).at(0);  // N x 512, or N x 512 x 1 x 1
      const float* values = out.ptr<float>();
      for (std::size_t i = 0; i < count; ++i) {  // L2-normalised, as mobile_face_net.cpp
        const float* row = values + i * kMobileFaceNetDims;
        double norm = 0;
        for (int k = 0; k < kMobileFaceNetDims; ++k) norm += double(row[k]) * row[k];
        const float scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0F;
        std::vector<float>& embedding = result.emplace_back(kMobileFaceNetDims);
        for (int k = 0; k < kMobileFaceNetDims; ++k) embedding[static_cast<std::size_t>(k)] = row[k] * scale;
      }
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
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kModelMissing, "cannot read model file " + path.string());
  const std::vector<uchar> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
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
