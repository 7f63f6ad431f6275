// dlib's own float weights of its face recognition ResNet (dlib_face_recognition_resnet_model_v1.dat,
// PyPI face_recognition_models 0.3.0, CC0) converted into face-api's file layout, so that the
// product's loader and both network implementations run them unchanged (ModelOptions::dlib_weights =
// DlibWeights::kFloat). dlib's serialisation is read by dlib itself (Debian libdlib-dev); this code
// is built only where dlib is, and the siamface library never links it.
//
// The file is read layer by layer in the order dlib writes it, each layer's details through
// dlib's own deserialize, so a damaged file is refused naming the layer and the field where it
// breaks (a truncated file says where it ends); every parameter tensor's size is checked against
// face-api's layout before dlib allocates it; then the whole file's SHA-256 is compared with the
// pin (model_files.cpp). Outputs are written under temporary names and renamed into place, so a
// failure leaves nothing half-written.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace siamface::dlib_convert {

// Every input or output problem. The message starts with the file's path and names the layer
// (dlib's layer<N> numbering, face-api's tensor name) and the field at fault.
class ConvertError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One parameter tensor in face-api's name, TF layout and order.
struct Tensor {
  std::string name;
  std::vector<int> shape;
  std::vector<float> values;
};

// The pinned SHA-256 of dlib_face_recognition_resnet_model_v1.dat (model_files.cpp).
std::string pinned_dat_sha256();

// Reads `dat` and returns face-api's 117 tensors (float32). The stem's filters are scaled by
// 255/256: dlib divides its input by 256, face-api (and our network) by 255, so with this the
// product computes exactly dlib's network. `expected_sha256` empty skips the checksum (tests of
// synthetic files only). Throws ConvertError.
std::vector<Tensor> read_dlib_resnet(const std::filesystem::path& dat,
                                     const std::string& expected_sha256 = pinned_dat_sha256());

// Writes `<model>-weights_manifest.json` and `<model>.bin` (float32, deterministic bytes) into
// `out_dir`: each under a temporary name first, then renamed into place (the manifest last).
// Throws ConvertError naming the file.
void write_face_api_model(const std::vector<Tensor>& tensors, const std::filesystem::path& out_dir,
                          const std::string& model);

// True unless both of `model`'s files exist in `out_dir`, are not older than `dat` and match
// their pinned SHA-256 (when pinned).
bool conversion_needed(const std::filesystem::path& dat, const std::filesystem::path& out_dir,
                       const std::string& model);

}  // namespace siamface::dlib_convert
