// face-api's FaceLandmark68Net / FaceLandmark68TinyNet rebuilt on OpenCV DNN.
// Topology: src/faceFeatureExtractor/{FaceFeatureExtractor,TinyFaceFeatureExtractor,denseBlock}.ts
// and src/faceProcessor/FaceProcessor.ts. Face crop: src/dom/extractFaceTensors.ts,
// NetInput.toBatchTensor, ops/padToSquare.ts; output mapping: FaceLandmark68NetBase.postProcess.
#include "landmarks/landmark_net.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "model/inference_backend.hpp"
#include "model/dnn_graph.hpp"
#include "model/net_pool.hpp"
#include "model/tfjs_weights.hpp"
#include "siamface/errors.hpp"
#include "util/batches.hpp"
#ifdef SIAMFACE_HAVE_ONEDNN
#include "model/dnnl_opencv_graph.hpp"
#endif

namespace siamface {
namespace {

// NetInput mean subtraction in RGB order, then / 255 (FaceFeatureExtractor.forwardInput).
constexpr float kMeanRgb[3] = {122.782F, 117.001F, 104.298F};

struct Topology {
  const char* model;       // weights file stem
  int dense_blocks;        // 4 (full) or 3 (tiny)
  int convs_per_block;     // denseBlock4 / denseBlock3
  int final_pool_kernel;   // avgPool [7,7] (full) / [14,14] (tiny), stride 2, valid
};

Topology topology_of(LandmarkKind kind) {
  if (kind == LandmarkKind::kTiny) return {"face_landmark_68_tiny_model", 3, 3, 14};
  return {"face_landmark_68_model", 4, 4, 7};
}

std::vector<TensorSpec> tensor_specs(const Topology& topo) {
  std::vector<TensorSpec> specs;
  int channels_in = 3;
  for (int b = 0; b < topo.dense_blocks; ++b) {
    const int channels_out = 32 << b;
    const std::string block = "dense" + std::to_string(b);
    for (int c = 0; c < topo.convs_per_block; ++c) {
      const std::string conv = block + "/conv" + std::to_string(c);
      const int cin = c == 0 ? channels_in : channels_out;
      if (b == 0 && c == 0) {
        specs.push_back({conv + "/filters", {3, 3, cin, channels_out}});
      } else {
        specs.push_back({conv + "/depthwise_filter", {3, 3, cin, 1}});
        specs.push_back({conv + "/pointwise_filter", {1, 1, cin, channels_out}});
      }
      specs.push_back({conv + "/bias", {channels_out}});
    }
    channels_in = channels_out;
  }
  specs.push_back({"fc/weights", {channels_in, 2 * kLandmarkCount}});
  specs.push_back({"fc/bias", {2 * kLandmarkCount}});
  return specs;
}

// Weights converted once to OpenCV layouts; shared read-only by every Net built from them.
struct ConvertedWeights {
  struct Conv {
    cv::Mat depthwise;  // empty for the plain first conv
    cv::Mat filters;    // plain conv filters or the pointwise 1x1 filters
    cv::Mat bias;
  };
  std::vector<std::vector<Conv>> blocks;
  cv::Mat fc_weights;
  cv::Mat fc_bias;
};

ConvertedWeights convert(const WeightMap& weights, const Topology& topo) {
  ConvertedWeights out;
  for (int b = 0; b < topo.dense_blocks; ++b) {
    std::vector<ConvertedWeights::Conv> block;
    for (int c = 0; c < topo.convs_per_block; ++c) {
      const std::string conv = "dense" + std::to_string(b) + "/conv" + std::to_string(c);
      ConvertedWeights::Conv converted;
      if (b == 0 && c == 0) {
        converted.filters = conv_filters_from_tf(weights.at(conv + "/filters"));
      } else {
        converted.depthwise = depthwise_filters_from_tf(weights.at(conv + "/depthwise_filter"));
        converted.filters = conv_filters_from_tf(weights.at(conv + "/pointwise_filter"));
      }
      converted.bias = vector_mat(weights.at(conv + "/bias").values);
      block.push_back(std::move(converted));
    }
    out.blocks.push_back(std::move(block));
  }
  out.fc_weights = dense_from_tf(weights.at("fc/weights"));
  out.fc_bias = vector_mat(weights.at("fc/bias").values);
  return out;
}

// common/depthwiseSeparableConv.ts: tf.separableConv2d (depthwise with the stride, then 1x1)
// with 'same' padding, plus bias.
int separable_conv(DnnGraph& g, int input, const ConvertedWeights::Conv& w, int stride) {
  const int depthwise = g.depthwise_conv(input, w.depthwise, cv::Mat(), stride, Padding::kSame);
  return g.conv(depthwise, w.filters, w.bias, 1, Padding::kSame);
}

// denseBlock3 / denseBlock4: every conv sees the relu of the sum of all earlier outputs.
// The sums keep the TS association order: out1 + (out2 + (out3 + out4)).
int dense_block(DnnGraph& g, int input, const std::vector<ConvertedWeights::Conv>& convs, bool first) {
  const int conv0 = first ? g.conv(input, convs[0].filters, convs[0].bias, 2, Padding::kSame)
                          : separable_conv(g, input, convs[0], 2);
  const int out1 = g.relu(conv0);
  std::vector<int> outs{out1};
  int next_input = out1;
  for (std::size_t c = 1; c < convs.size(); ++c) {
    outs.push_back(separable_conv(g, next_input, convs[c], 1));
    int sum = outs.back();
    for (std::size_t k = outs.size() - 1; k-- > 0;) sum = g.add(outs[k], sum);
    next_input = g.relu(sum);
  }
  return next_input;
}

cv::dnn::Net build_net(const ConvertedWeights& w, const Topology& topo) {
  DnnGraph g;
  int x = DnnGraph::kInput;
  for (std::size_t b = 0; b < w.blocks.size(); ++b) x = dense_block(g, x, w.blocks[b], b == 0);
  x = g.avg_pool(x, topo.final_pool_kernel, 2, Padding::kValid);
  g.dense(x, w.fc_weights, w.fc_bias);
  cv::dnn::Net net = g.net();
  net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
  net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
  return net;
}

// A BGR image of any size (Pixel: cv::Vec3b, or cv::Vec3f holding 0..255) -> one face's normalized
// RGB planes of an NCHW blob, after face-api's padToSquare(centered) and tf.image.resizeBilinear(alignCorners=false,
// halfPixelCenters=false). Reads only the pixels the 112 x 112 samples need: converting the whole
// crop to float RGB first is slow on large photos (docs/speed.md, "Photo size and face count").
template <typename Pixel>
void write_blob(const cv::Mat& bgr, float* planes) {
  const int height = bgr.rows, width = bgr.cols;
  const int side = std::max(height, width);
  // padToSquare: round(diff / 2) zeros appended after the image, the rest prepended.
  const int diff = side - std::min(height, width);
  const int prepend = diff - static_cast<int>(std::floor(diff * 0.5 + 0.5));
  const int offset_x = width < height ? prepend : 0;
  const int offset_y = height < width ? prepend : 0;

  // The pixel at (y, x) of the padded square image, or null in the zero padding.
  auto pixel_at = [&](int y, int x) -> const Pixel* {
    y -= offset_y;
    x -= offset_x;
    if (y < 0 || x < 0 || y >= height || x >= width) return nullptr;
    return &bgr.ptr<Pixel>(y)[x];
  };

  // The two source rows (or columns) and the weight of each output row (or column): the same
  // table serves both axes of the square. Computed once, not per pixel and channel.
  struct Tap {
    int near, far;
    double weight;
  };
  std::array<Tap, kLandmarkInputSize> taps{};
  const double ratio = static_cast<double>(side) / kLandmarkInputSize;
  for (int o = 0; o < kLandmarkInputSize; ++o) {
    const double f = ratio * o;
    const int near = static_cast<int>(std::floor(f));
    taps[o] = {near, std::min(side - 1, static_cast<int>(std::ceil(f))), f - near};
  }

  constexpr int kPlane = kLandmarkInputSize * kLandmarkInputSize;
  for (int oy = 0; oy < kLandmarkInputSize; ++oy) {
    const Tap& ty = taps[oy];
    for (int ox = 0; ox < kLandmarkInputSize; ++ox) {
      const Tap& tx = taps[ox];
      const Pixel* corners[4] = {pixel_at(ty.near, tx.near), pixel_at(ty.near, tx.far), pixel_at(ty.far, tx.near),
                                 pixel_at(ty.far, tx.far)};
      for (int ch = 0; ch < 3; ++ch) {
        float v[4];
        for (int k = 0; k < 4; ++k) v[k] = corners[k] ? static_cast<float>((*corners[k])[2 - ch]) : 0.0F;
        const double top = v[0] + (v[1] - v[0]) * tx.weight;
        const double bottom = v[2] + (v[3] - v[2]) * tx.weight;
        const float value = static_cast<float>(top + (bottom - top) * ty.weight);
        planes[ch * kPlane + oy * kLandmarkInputSize + ox] = (value - kMeanRgb[ch]) / 255.0F;
      }
    }
  }
}

// Writes one face's 3 x 112 x 112 input at `planes` (CV_8UC3, or CV_32FC3 holding 0..255).
void write_blob_of(const cv::Mat& bgr, float* planes) {
  if (bgr.depth() == CV_8U) {
    write_blob<cv::Vec3b>(bgr, planes);
  } else {
    write_blob<cv::Vec3f>(bgr, planes);
  }
}

// An N x 3 x 112 x 112 blob.
cv::Mat make_blob(int batch) {
  const int dims[] = {batch, 3, kLandmarkInputSize, kLandmarkInputSize};
  return cv::Mat(4, dims, CV_32F);
}

// Thread safety: predict_all() is const; each call leases its own cv::dnn::Net from the pool (or its
// own workspace of the oneDNN graph) and the weights are immutable.
class FaceApiLandmarkNet final : public LandmarkNet {
 public:
  // `backend`: the embedding networks' choice (resolve_inference_backend), which the landmark
  // nets follow: any oneDNN one runs them on oneDNN f32 (the same points to float rounding).
  FaceApiLandmarkNet(std::shared_ptr<const ConvertedWeights> weights, Topology topo, InferenceBackend backend,
                     const std::string& label)
      : weights_(std::move(weights)),
        topo_(topo),
        pool_([w = weights_, topo] { return build_net(*w, topo); }) {
#ifdef SIAMFACE_HAVE_ONEDNN
    if (backend != InferenceBackend::kOpenCv) {
      // A net that has never run: OpenCV fuses layers on the first forward.
      cv::dnn::Net net = build_net(*weights_, topo_);
      const std::vector<std::string> outputs = net.getUnconnectedOutLayersNames();
      dnnl_ = DnnlGraph::from(net, {1, 3, kLandmarkInputSize, kLandmarkInputSize}, outputs, label);
    }
#else
    (void)backend;
    (void)label;
#endif
  }

  std::vector<Landmarks> predict_all(const std::vector<LandmarkRegion>& regions) const override {
    std::vector<cv::Rect> crops;
    crops.reserve(regions.size());
    for (const LandmarkRegion& region : regions) crops.push_back(crop_of(region.bgr, region.box));
    std::vector<Landmarks> result;
    result.reserve(regions.size());
    for_each_batch(regions.size(), [&](std::size_t first, std::size_t count) {
      cv::Mat blob = make_blob(static_cast<int>(count));
      for (std::size_t i = 0; i < count; ++i) {
        write_blob_of(regions[first + i].bgr(crops[first + i]), blob.ptr<float>(static_cast<int>(i)));
      }
      const cv::Mat out = run(blob);
      for (std::size_t i = 0; i < count; ++i) {
        LandmarkRawOutput raw{};
        std::copy_n(out.ptr<float>() + i * raw.size(), raw.size(), raw.begin());
        result.push_back(to_image(raw, crops[first + i]));
      }
    });
    return result;
  }

  LandmarkRawOutput predict_input(const cv::Mat& bgr_112) const override {
    if (bgr_112.rows != kLandmarkInputSize || bgr_112.cols != kLandmarkInputSize ||
        (bgr_112.type() != CV_8UC3 && bgr_112.type() != CV_32FC3)) {
      throw Error(ErrorCode::kInvalidArgument, "landmarks: predict_input needs a 112x112 CV_8UC3 or CV_32FC3 image");
    }
    cv::Mat blob = make_blob(1);
    write_blob_of(bgr_112, blob.ptr<float>(0));
    LandmarkRawOutput raw{};
    std::copy_n(run(blob).ptr<float>(), raw.size(), raw.begin());
    return raw;
  }

 private:
  // The raw outputs (N x 136) of an N x 3 x 112 x 112 blob.
  cv::Mat run(const cv::Mat& blob) const {
    cv::Mat out;
#ifdef SIAMFACE_HAVE_ONEDNN
    if (dnnl_) out = dnnl_->run(blob).at(0);
#endif
    if (out.empty()) {
      NetPool::Lease net = pool_.lease();
      net->setInput(blob);
      out = net->forward();
    }
    if (out.total() != static_cast<std::size_t>(blob.size[0]) * 2 * kLandmarkCount) {
      throw Error(ErrorCode::kInternal, std::string("landmarks: unexpected output size from ") + topo_.model);
    }
    return out;
  }

  // The crop face-api takes for `box`: Box.clipAtImageBorders, then floor of x, y, width and height.
  static cv::Rect crop_of(const cv::Mat& bgr, const Box& box) {
    if (bgr.empty() || bgr.type() != CV_8UC3) {
      throw Error(ErrorCode::kInvalidArgument, "landmarks: expected a non-empty CV_8UC3 image");
    }
    const double clipped_x = std::max<double>(box.left, 0.0);
    const double clipped_y = std::max<double>(box.top, 0.0);
    const double clipped_w = std::min<double>(box.right() - clipped_x, bgr.cols - clipped_x);
    const double clipped_h = std::min<double>(box.bottom() - clipped_y, bgr.rows - clipped_y);
    const cv::Rect crop(static_cast<int>(std::floor(clipped_x)), static_cast<int>(std::floor(clipped_y)),
                        static_cast<int>(std::floor(clipped_w)), static_cast<int>(std::floor(clipped_h)));
    if (crop.width <= 0 || crop.height <= 0) {
      throw Error(ErrorCode::kInvalidArgument, "landmarks: the face box lies outside the image");
    }
    return crop;
  }

  // FaceLandmark68NetBase.postProcess: undo the centered padding in the 112 frame (it assumes
  // diff/2 on each side, unrounded), then scale to the crop. face-api then shifts by the
  // unclipped detection box origin; we shift by the crop origin actually used, which is what the
  // pixels were cut from (the two differ by the floor and, for boxes past the left/top border, by
  // the clipping).
  static Landmarks to_image(const LandmarkRawOutput& raw, const cv::Rect& crop) {
    const double scale = static_cast<double>(kLandmarkInputSize) / std::max(crop.width, crop.height);
    const double scaled_w = crop.width * scale, scaled_h = crop.height * scale;
    const double pad_x = scaled_w < scaled_h ? std::abs(scaled_w - scaled_h) / 2 : 0.0;
    const double pad_y = scaled_h < scaled_w ? std::abs(scaled_w - scaled_h) / 2 : 0.0;
    Landmarks landmarks{};
    for (int i = 0; i < kLandmarkCount; ++i) {
      const double rel_x = (raw[2 * i] * kLandmarkInputSize - pad_x) / scaled_w;
      const double rel_y = (raw[2 * i + 1] * kLandmarkInputSize - pad_y) / scaled_h;
      landmarks[i].x = static_cast<float>(rel_x * crop.width + crop.x);
      landmarks[i].y = static_cast<float>(rel_y * crop.height + crop.y);
    }
    return landmarks;
  }

  std::shared_ptr<const ConvertedWeights> weights_;
  Topology topo_;
  NetPool pool_;  // OpenCV DNN sessions, built on first need
#ifdef SIAMFACE_HAVE_ONEDNN
  std::unique_ptr<DnnlGraph> dnnl_;  // the net on oneDNN; null on OpenCV DNN
#endif
};

}  // namespace

Landmarks unmirror_landmarks(const Landmarks& mirrored, float image_width) {
  // iBUG 68: jaw 0-16, brows 17-21 | 22-26, nose ridge 27-30, nostrils 31-35, eyes 36-41 |
  // 42-47, outer lips 48-59, inner lips 60-67.
  static constexpr std::array<int, kLandmarkCount> kMirrorOf = {
      16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4,  3,  2,  1,  0,             // jaw
      26, 25, 24, 23, 22, 21, 20, 19, 18, 17,                                       // brows
      27, 28, 29, 30, 35, 34, 33, 32, 31,                                           // nose
      45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,                               // eyes
      54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65};  // lips
  Landmarks result{};
  for (int i = 0; i < kLandmarkCount; ++i) {
    const Point& p = mirrored[kMirrorOf[i]];
    result[i] = {image_width - p.x, p.y};
  }
  return result;
}

Landmarks landmarks_in_input_frame(const LandmarkRawOutput& raw) {
  Landmarks landmarks{};
  for (int i = 0; i < kLandmarkCount; ++i) {
    landmarks[i].x = raw[2 * i] * kLandmarkInputSize;
    landmarks[i].y = raw[2 * i + 1] * kLandmarkInputSize;
  }
  return landmarks;
}

std::unique_ptr<LandmarkNet> make_landmark_net(const std::filesystem::path& models_dir, LandmarkKind kind) {
  // resolve first: an unknown $SIAMFACE_RECOGNITION_BACKEND fails before the weights are read.
  const InferenceBackend backend = resolve_inference_backend(InferenceBackend::kAuto);
  const Topology topo = topology_of(kind);
  const std::filesystem::path manifest = models_dir / (std::string(topo.model) + "-weights_manifest.json");
  const WeightMap weights = WeightMap::load(manifest, tensor_specs(topo));
  auto converted = std::make_shared<const ConvertedWeights>(convert(weights, topo));
  auto net = std::make_unique<FaceApiLandmarkNet>(std::move(converted), topo, backend, manifest.string());
  net->predict_input(cv::Mat(kLandmarkInputSize, kLandmarkInputSize, CV_8UC3, cv::Scalar::all(0)));  // fail fast
  return net;
}

}  // namespace siamface
