// The face embedding ResNet (recognition_net.cpp) on oneDNN instead of OpenCV DNN: same weights,
// same preprocessing, same output (raw 128-d embedding, no L2 normalisation). Built when oneDNN
// is found (SIAMFACE_HAVE_ONEDNN); make_recognition_net() picks it. Measured by
// bench/dnnl_study_bench.cpp and bench/embed_speed_bench.cpp (docs/speed.md, "Embedding").
#pragma once

#include <filesystem>
#include <memory>

#include "model/dnnl_opencv_graph.hpp"
#include "embed/recognition_net.hpp"

namespace siamface {

// In kBF16 the 3-channel stem, the residualDown joins and the head stay f32 (cheap, not faster in
// bf16). Throws Error(kInvalidArgument) for kBF16 when the CPU has no native bf16 support (oneDNN would
// otherwise emulate it, slower than f32), and the WeightMap errors for missing/corrupt models.
// `manifest`: the weights' face-api manifest (make_recognition_net names it).
std::unique_ptr<RecognitionNet> make_dnnl_recognition_net(const std::filesystem::path& manifest,
                                                          DnnlPrecision precision);

}  // namespace siamface
