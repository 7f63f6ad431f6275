// Runs a cv::dnn::Net's graph on oneDNN: the layers are read from the Net (types, blobs, shapes,
// convolution and pooling fields) and turned into oneDNN primitives, so a network built by hand
// with DnnGraph (the SSD detector, the landmark nets) or imported by OpenCV runs unchanged on the
// faster engine, with the same outputs to float rounding.
//
// Supported layers: Convolution (groups, dilation, explicit or 'SAME'/'VALID' padding, the latter
// asymmetric as OpenCV computes it: the end padding follows from the output shape), ReLU (with a
// negative slope), ReLU6 (any bounds), PReLU (per-channel slopes), Power of exponent 1 (scale and
// shift), Eltwise plain sum of two inputs, Concat along the channels, Pooling max/ave (global or
// not), InnerProduct, and Identity/Flatten/Reshape that only drop trailing 1s. An activation whose input nothing else reads is fused into the layer before it
// (post-op). PReLU is a step of its own (oneDNN 2.6 has the prelu post-op on its reference
// convolution only), in place when nothing else reads its input. A sum one of whose inputs is a
// convolution's output read by nothing else becomes that convolution's sum post-op, accumulated in
// place onto the other input (a residual add's shortcut) when nothing reads that afterwards.
// Layers no requested output depends on are skipped.
//
// Per batch size and thread count a plan (dnnl_plans::PlanSet), weights reordered once per layout,
// the activations of one call packed into one arena. Used by the SSD and RFB detectors, the
// landmark nets and the MobileFaceNet (dnnl_mobile_face_net.cpp).
//
// Only compiled when the build has oneDNN (SIAMFACE_HAVE_ONEDNN); this header needs no oneDNN.
#pragma once

#include <memory>
#include <opencv2/dnn.hpp>
#include <string>
#include <vector>

namespace siamface {

enum class DnnlPrecision {
  kF32,   // f32 everywhere
  kBF16,  // bf16 weights and activations, f32 accumulation; needs native avx512_bf16 (or AMX).
};

// Whether oneDNN runs bf16 natively here (avx512_bf16 or AMX); elsewhere it would emulate it,
// slower than f32.
bool has_native_bf16();

// Thread safety: run() is const and safe to call from many threads (each call leases its own
// workspace); the weights and plans are immutable once built.
class DnnlGraph {
 public:
  // Reads `net` for inputs of shape `input` (N x C x H x W; N is only used for shapes, run() takes
  // any batch) and the layers named in `outputs`. `net` should never have been run: OpenCV fuses
  // layers on its first forward and may rescale a convolution's weights in place. `label` (a
  // model file) names the model in errors. Throws Error(kModelCorrupt) for a layer or topology
  // that is not supported, naming the layer. Builds the plan of `input`'s batch size at
  // cv::getNumThreads() threads so oneDNN's own refusals surface here.
  // kBF16 (only where has_native_bf16(); Error(kInvalidArgument) elsewhere): convolutions, pooling
  // and sums in bf16, except a convolution reading the f32 input (3 channels: nothing to gain);
  // inner products write f32, and outputs are f32 as always. Only the SSD runs it (tested there:
  // convolutions with ReLU6 post-ops); the landmark nets and the MobileFaceNet stay f32.
  static std::unique_ptr<DnnlGraph> from(cv::dnn::Net& net, const cv::dnn::MatShape& input,
                                         const std::vector<std::string>& outputs, const std::string& label,
                                         DnnlPrecision precision = DnnlPrecision::kF32);

  ~DnnlGraph();
  DnnlGraph(const DnnlGraph&) = delete;
  DnnlGraph& operator=(const DnnlGraph&) = delete;

  // `blob`: a continuous N x C x H x W CV_32F blob (C, H, W as given to from(); any N >= 1). Returns
  // the outputs in the order of `outputs`, each a fresh CV_32F blob of the shape OpenCV gives that
  // layer (with the batch of `blob`), in OpenCV's plain order. Runs on cv::getNumThreads() OpenMP threads, as
  // OpenCV DNN would, with a plan per batch size and thread count (built on first need). Throws Error(kInvalidArgument) for a blob of the wrong shape or type.
  std::vector<cv::Mat> run(const cv::Mat& blob) const;

  struct Impl;

 private:
  explicit DnnlGraph(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace siamface
