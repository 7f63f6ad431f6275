// The MobileFaceNet (mobile_face_net.cpp) on oneDNN instead of OpenCV DNN: the same ONNX file, read
// with OpenCV's importer for its graph and weights and run by DnnlGraph (dnnl_opencv_graph.hpp);
// same preprocessing, same output (512 values, L2-normalised). Built when oneDNN is found
// (SIAMFACE_HAVE_ONEDNN). Measured by bench/dnnl_study_bench.cpp.
#pragma once

#include <filesystem>
#include <memory>

#include "embed/mobile_face_net.hpp"

namespace siamface {

// Throws Error(kModelMissing) when the file cannot be read and Error(kModelCorrupt), naming the file
// and what is wrong, when OpenCV cannot parse it or the graph is not one DnnlGraph runs, or does
// not end in one output of 512 values.
std::unique_ptr<MobileFaceNet> make_dnnl_mobile_face_net(const std::filesystem::path& models_dir);

}  // namespace siamface
