#include "embed/mobile_face_net.hpp"

#include <cmath>
#include <opencv2/dnn.hpp>

#include "align/arcface_chip.hpp"
#include "model/dnn_flops.hpp"
#include "model/net_pool.hpp"
#include "siamface/errors.hpp"
#ifdef SIAMFACE_HAVE_ONEDNN
#include "embed/dnnl_mobile_face_net.hpp"
#endif

namespace siamface {
namespace {

class OnnxMobileFaceNet final : public MobileFaceNet {
 public:
  explicit OnnxMobileFaceNet(const std::filesystem::path& path) : path_(path.string()), pool_(onnx_net_pool(path)) {}

  std::vector<std::vector<float>> embed(const std::vector<cv::Mat>& chips) const override {
    check_mobile_face_net_chips(chips);
    std::vector<std::vector<float>> result;
    if (chips.empty()) return result;
    const cv::Mat blob = mobile_face_net_blob(chips);
    cv::Mat out;
    {
      auto net = pool_.lease();
      net->setInput(blob);
      out = net->forward().clone();
    }
    // The graph flattens to one row whatever the batch, so read it as chips x 512.
    if (out.total() != chips.size() * kMobileFaceNetDims) {
      throw Error(ErrorCode::kModelCorrupt, path_ + ": output has " + std::to_string(out.total() / chips.size()) +
                                                " values per face, expected " + std::to_string(kMobileFaceNetDims));
    }
    const float* values = out.ptr<float>();
    for (std::size_t i = 0; i < chips.size(); ++i) result.push_back(unit_length(values + i * kMobileFaceNetDims));
    return result;
  }

  const char* backend_name() const override { return "OpenCV DNN"; }

  std::int64_t flops_per_chip() const override {
    return count_flops(*pool_.lease(), cv::dnn::MatShape{1, 3, kArcFaceChipSize, kArcFaceChipSize});
  }

 private:
  std::string path_;
  NetPool pool_;
};

}  // namespace

void check_mobile_face_net_chips(const std::vector<cv::Mat>& chips) {
  for (std::size_t i = 0; i < chips.size(); ++i) {
    const cv::Mat& chip = chips[i];
    if (chip.type() != CV_8UC3 || chip.rows != kArcFaceChipSize || chip.cols != kArcFaceChipSize) {
      throw Error(ErrorCode::kInvalidArgument, "face chip " + std::to_string(i) +
                                                   " must be a 112x112 8-bit BGR image for the MobileFaceNet");
    }
  }
}

cv::Mat mobile_face_net_blob(const std::vector<cv::Mat>& chips) {
  return cv::dnn::blobFromImages(chips, 1.0 / 128.0, cv::Size(kArcFaceChipSize, kArcFaceChipSize),
                                 cv::Scalar::all(127.5), /*swapRB=*/false, /*crop=*/false, CV_32F);
}

std::vector<float> unit_length(const float* values) {
  double norm = 0;
  for (int k = 0; k < kMobileFaceNetDims; ++k) norm += double(values[k]) * values[k];
  const float scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0F;
  std::vector<float> out(kMobileFaceNetDims);
  for (int k = 0; k < kMobileFaceNetDims; ++k) out[static_cast<std::size_t>(k)] = values[k] * scale;
  return out;
}

std::unique_ptr<MobileFaceNet> make_mobile_face_net(const std::filesystem::path& models_dir,
                                                    InferenceBackend backend) {
#ifdef SIAMFACE_HAVE_ONEDNN
  if (resolve_inference_backend(backend) != InferenceBackend::kOpenCv) return make_dnnl_mobile_face_net(models_dir);
#else
  resolve_inference_backend(backend);  // rejects a oneDNN backend this build lacks
#endif
  const std::filesystem::path path = models_dir / kMobileFaceNetFile;
  auto net = std::make_unique<OnnxMobileFaceNet>(path);  // reads the file: kModelMissing
  try {
    // One session now, so a wrong graph fails at load time: input 1x3x112x112, output 512.
    const auto probe = net->embed({cv::Mat(kArcFaceChipSize, kArcFaceChipSize, CV_8UC3, cv::Scalar::all(127))});
    if (probe.size() != 1) throw Error(ErrorCode::kModelCorrupt, path.string() + ": no output");
  } catch (const cv::Exception& e) {
    throw Error(ErrorCode::kModelCorrupt, path.string() + ": OpenCV cannot run it as a 1x3x112x112 -> 512 network (" +
                                              std::string(e.err) + ")");
  }
  return net;
}

}  // namespace siamface
