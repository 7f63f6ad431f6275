// face-api's FaceLandmark68Net / FaceLandmark68TinyNet rebuilt on OpenCV DNN: the shared
// FaceFeatureExtractor (model/face_feature_extractor.hpp) on face-api's 112-px input
// (model/face_api_input.hpp); output mapping: FaceLandmark68NetBase.postProcess.
#include "landmarks/landmark_net.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "model/face_api_input.hpp"
#include "model/face_feature_extractor.hpp"
#include "model/inference_backend.hpp"
#include "model/net_pool.hpp"
#include "model/tfjs_weights.hpp"
#include "siamface/errors.hpp"
#include "util/batches.hpp"
#ifdef SIAMFACE_HAVE_ONEDNN
#include "model/dnnl_opencv_graph.hpp"
#endif

namespace siamface {
namespace {

FaceFeatureTopology topology_of(LandmarkKind kind) {
  if (kind == LandmarkKind::kTiny) return {"face_landmark_68_tiny_model", 3, 3, 14, 2 * kLandmarkCount};
  return {"face_landmark_68_model", 4, 4, 7, 2 * kLandmarkCount};
}

// Thread safety: predict_all() is const; each call leases its own cv::dnn::Net from the pool (or its
// own workspace of the oneDNN graph) and the weights are immutable.
class FaceApiLandmarkNet final : public LandmarkNet {
 public:
  // `backend`: the embedding networks' choice (resolve_inference_backend), which the landmark
  // nets follow: any oneDNN one runs them on oneDNN f32 (the same points to float rounding).
  FaceApiLandmarkNet(std::shared_ptr<const FaceFeatureWeights> weights, FaceFeatureTopology topo, InferenceBackend backend,
                     const std::string& label)
      : weights_(std::move(weights)),
        topo_(topo),
        pool_([w = weights_, topo] { return build_face_feature_net(*w, topo); }) {
#ifdef SIAMFACE_HAVE_ONEDNN
    if (backend != InferenceBackend::kOpenCv) {
      // A net that has never run: OpenCV fuses layers on the first forward.
      cv::dnn::Net net = build_face_feature_net(*weights_, topo_);
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
    for (const LandmarkRegion& region : regions) crops.push_back(face_api_crop(region.bgr, region.box, "landmarks"));
    std::vector<Landmarks> result;
    result.reserve(regions.size());
    for_each_batch(regions.size(), [&](std::size_t first, std::size_t count) {
      cv::Mat blob = make_face_api_blob(static_cast<int>(count));
      for (std::size_t i = 0; i < count; ++i) {
        write_face_api_input(regions[first + i].bgr(crops[first + i]), blob.ptr<float>(static_cast<int>(i)));
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
    cv::Mat blob = make_face_api_blob(1);
    write_face_api_input(bgr_112, blob.ptr<float>(0));
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

  std::shared_ptr<const FaceFeatureWeights> weights_;
  FaceFeatureTopology topo_;
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
  const FaceFeatureTopology topo = topology_of(kind);
  const std::filesystem::path manifest = models_dir / (std::string(topo.model) + "-weights_manifest.json");
  const WeightMap weights = WeightMap::load(manifest, face_feature_tensor_specs(topo));
  auto converted = std::make_shared<const FaceFeatureWeights>(convert_face_feature_weights(weights, topo));
  auto net = std::make_unique<FaceApiLandmarkNet>(std::move(converted), topo, backend, manifest.string());
  net->predict_input(cv::Mat(kLandmarkInputSize, kLandmarkInputSize, CV_8UC3, cv::Scalar::all(0)));  // fail fast
  return net;
}

}  // namespace siamface
