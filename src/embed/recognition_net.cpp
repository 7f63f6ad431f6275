// face-api's FaceRecognitionNet (a port of dlib_face_recognition_resnet_model_v1) on OpenCV DNN:
// the reference implementation (topology in recognition_net_spec.hpp), and the choice between it
// and the oneDNN one.
#include "embed/recognition_net.hpp"

#include <cstdlib>
#include <cstring>

#include <opencv2/dnn.hpp>

#include "embed/recognition_net_spec.hpp"
#ifdef SIAMFACE_HAVE_ONEDNN
#include "embed/dnnl_recognition_net.hpp"
#endif
#include "model/dnn_graph.hpp"
#include "model/dnn_flops.hpp"
#include "model/net_pool.hpp"
#include "model/tfjs_weights.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

using namespace recognition_spec;

// One "conv + bias + scale" unit, already in OpenCV layout.
struct ConvUnit {
  cv::Mat filters;  // [cout, cin, kh, kw]
  cv::Mat bias;     // 1 x cout
  cv::Mat scale_weights;
  cv::Mat scale_biases;
};

struct Block {
  ConvUnit conv1;
  ConvUnit conv2;
};

ConvUnit load_unit(const WeightMap& map, const std::string& prefix) {
  ConvUnit unit;
  unit.filters = conv_filters_from_tf(map.at(prefix + "/conv/filters"));
  unit.bias = vector_mat(map.at(prefix + "/conv/bias").values);
  unit.scale_weights = vector_mat(map.at(prefix + "/scale/weights").values);
  unit.scale_biases = vector_mat(map.at(prefix + "/scale/biases").values);
  return unit;
}

// Immutable after construction; shared by every Net in the pool.
struct Weights {
  ConvUnit stem;
  std::vector<Block> blocks;  // parallel to kBlocks
  cv::Mat fc;                 // [128, 256]
};

std::shared_ptr<const Weights> load_weights(const std::filesystem::path& manifest) {
  const WeightMap map = WeightMap::load(manifest, expected_tensors());
  auto weights = std::make_shared<Weights>();
  weights->stem = load_unit(map, "conv32_down");
  for (const BlockSpec& block : kBlocks) {
    weights->blocks.push_back(
        {load_unit(map, std::string(block.prefix) + "/conv1"), load_unit(map, std::string(block.prefix) + "/conv2")});
  }
  weights->fc = dense_from_tf(map.at("fc"));
  return weights;
}

int conv_unit(DnnGraph& graph, int input, const ConvUnit& unit, int stride, Padding padding, bool with_relu) {
  int out = graph.conv(input, unit.filters, unit.bias, stride, padding);
  out = graph.scale(out, unit.scale_weights, unit.scale_biases);
  return with_relu ? graph.relu(out) : out;
}

cv::dnn::Net build_net(const Weights& weights) {
  DnnGraph graph;
  int size = kChipSize;
  int x = conv_unit(graph, DnnGraph::kInput, weights.stem, 2, Padding::kValid, true);
  size = valid_size(size, kStemKernel, 2);
  x = graph.max_pool(x, 3, 2, Padding::kValid);
  size = valid_size(size, 3, 2);

  for (std::size_t i = 0; i < weights.blocks.size(); ++i) {
    const Block& block = weights.blocks[i];
    const BlockSpec& spec = kBlocks[i];
    if (spec.kind == BlockKind::kResidual) {
      int out = conv_unit(graph, x, block.conv1, 1, Padding::kSame, true);
      out = conv_unit(graph, out, block.conv2, 1, Padding::kSame, false);
      x = graph.relu(graph.add(out, x));
      continue;
    }
    // residualDown: the conv branch is 'valid' with stride 2; the shortcut is a 2x2/2 average
    // pool with zero channels appended. When the conv branch comes out smaller than the pool
    // (8->3 vs 4, 4->1 vs 2), face-api appends zero rows/columns at the bottom/right.
    int out = conv_unit(graph, x, block.conv1, 2, Padding::kValid, true);
    out = conv_unit(graph, out, block.conv2, 1, Padding::kSame, false);
    const int conv_size = valid_size(size, 3, 2);
    const int pool_size = valid_size(size, 2, 2);
    if (conv_size != pool_size) out = graph.zero_pad(out, 0, pool_size - conv_size, pool_size - conv_size);
    int shortcut = graph.avg_pool(x, 2, 2, Padding::kValid);
    if (spec.out_channels != spec.in_channels) {
      shortcut = graph.zero_pad(shortcut, spec.out_channels - spec.in_channels, 0, 0);
    }
    x = graph.relu(graph.add(out, shortcut));
    size = pool_size;
  }

  x = graph.global_avg_pool(x);
  graph.dense(x, weights.fc, cv::Mat());
  cv::dnn::Net net = graph.net();
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

// Thread safety: embed() is const and safe from many threads; each call leases its own Net.
class DnnRecognitionNet final : public RecognitionNet {
 public:
  explicit DnnRecognitionNet(std::shared_ptr<const Weights> weights)
      : weights_(std::move(weights)), pool_([w = weights_] { return build_net(*w); }) {}

  std::vector<Embedding> embed(const std::vector<cv::Mat>& chips) const override {
    check_recognition_chips(chips);
    std::vector<Embedding> result;
    if (chips.empty()) return result;
    const cv::Mat blob = recognition_blob(chips);
    cv::Mat out;
    {
      auto net = pool_.lease();
      net->setInput(blob);
      out = net->forward().clone();
    }
    out = out.reshape(1, static_cast<int>(chips.size()));
    if (out.cols != kDlibEmbeddingSize) {
      throw Error(ErrorCode::kInternal, "recognition net produced " + std::to_string(out.cols) + " values per face");
    }
    result.resize(chips.size());
    for (std::size_t i = 0; i < chips.size(); ++i) {
      const float* row = out.ptr<float>(static_cast<int>(i));
      result[i].assign(row, row + kDlibEmbeddingSize);
    }
    return result;
  }

  std::int64_t flops_per_chip() const override {
    return count_flops(*pool_.lease(), cv::dnn::MatShape{1, 3, kChipSize, kChipSize});
  }

  const char* backend_name() const override { return "OpenCV DNN"; }

 private:
  std::shared_ptr<const Weights> weights_;
  NetPool pool_;
};

}  // namespace

void check_recognition_chips(const std::vector<cv::Mat>& chips) {
  for (std::size_t i = 0; i < chips.size(); ++i) {
    const cv::Mat& chip = chips[i];
    if (chip.type() != CV_8UC3 || chip.rows != kChipSize || chip.cols != kChipSize) {
      throw Error(ErrorCode::kInvalidArgument, "face chip " + std::to_string(i) +
                                                   " must be a 150x150 8-bit BGR image, got " +
                                                   std::to_string(chip.cols) + "x" + std::to_string(chip.rows) +
                                                   " type " + std::to_string(chip.type()));
    }
  }
}

cv::Mat recognition_blob(const std::vector<cv::Mat>& chips) {
  // BGR -> RGB, (pixel - meanRgb) / 255, NCHW. blobFromImages subtracts the mean (given in RGB
  // order, as swapRB swaps it too) before scaling.
  return cv::dnn::blobFromImages(chips, 1.0 / 255.0, cv::Size(kChipSize, kChipSize),
                                 cv::Scalar(kMeanR, kMeanG, kMeanB), /*swapRB=*/true, /*crop=*/false, CV_32F);
}

namespace {

std::unique_ptr<RecognitionNet> make_opencv_recognition_net(const std::filesystem::path& manifest) {
  auto net = std::make_unique<DnnRecognitionNet>(load_weights(manifest));
  // Build one session now so topology errors surface at load time, not on first use.
  net->embed({cv::Mat(kChipSize, kChipSize, CV_8UC3, cv::Scalar::all(0))});
  return net;
}

}  // namespace

std::unique_ptr<RecognitionNet> make_recognition_net(const std::filesystem::path& models_dir,
                                                     InferenceBackend backend, const std::string& model) {
  const std::filesystem::path manifest = models_dir / (model + "-weights_manifest.json");
  switch (resolve_inference_backend(backend)) {
#ifdef SIAMFACE_HAVE_ONEDNN
    case InferenceBackend::kOneDnn: return make_dnnl_recognition_net(manifest, DnnlPrecision::kF32);
    case InferenceBackend::kOneDnnBf16: return make_dnnl_recognition_net(manifest, DnnlPrecision::kBF16);
#endif
    default: return make_opencv_recognition_net(manifest);
  }
}

}  // namespace siamface
