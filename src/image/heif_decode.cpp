// HEIF (HEVC) and AVIF (AV1) through libheif. Debian 12's libheif 1.15 has its codecs built in
// (libde265 and x265 for HEVC, dav1d and aom for AV1), so no plugin package is needed.
//
// Orientation: HEIF rotates and mirrors with the irot/imir item properties, which libheif
// applies in heif_decode_image unless told to ignore them. The Exif block a camera also stores
// is informative only (ISO/IEC 23008-12 makes the properties authoritative; libheif 1.15 keeps
// whatever orientation the Exif says), so it is never read here: applying both would turn the
// picture twice.
//
// Derived images: libheif 1.15 decodes a grid, overlay or identity item by recursing into the
// items it references ('dimg'), and into an item's alpha image ('auxl'), with no guard: a grid
// that lists itself overflowed the stack (found by fuzz/image_decode_fuzz.cpp). Those
// references are read here from the 'iref' box first, and a cycle or a chain deeper than any
// real file uses is refused before libheif sees the file.
//
// Sizes: libheif checks the 'ispe' property against its limit (set below), but allocates the
// decoded picture by the codec's own parameter sets and a grid's or overlay's output size.
// heif_boxes::check_coded_sizes reads those first.

#include <libheif/heif.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "image/cv_image.hpp"
#include "image/format_decoders.hpp"
#include "image/heif_boxes.hpp"
#include "siamface/errors.hpp"

namespace siamface {

namespace {

using heif_boxes::Box;
using heif_boxes::child_boxes;
using heif_boxes::fourcc;
using heif_boxes::meta_payload;
using heif_boxes::read_be;

struct ContextFree {
  void operator()(heif_context* context) const { heif_context_free(context); }
};
struct HandleRelease {
  void operator()(heif_image_handle* handle) const { heif_image_handle_release(handle); }
};
struct ImageRelease {
  void operator()(heif_image* image) const { heif_image_release(image); }
};
struct OptionsFree {
  void operator()(heif_decoding_options* options) const { heif_decoding_options_free(options); }
};

// Grid -> tile is 1 level; identity -> grid -> tile or alpha -> grid -> tile 2. Far above that
// is no photo.
constexpr int kMaxDerivationDepth = 8;

// The items each item makes libheif decode along with it: its 'dimg' sources, and the alpha
// item that names it through 'auxl'. From every 'iref' box of the first 'meta' box.
std::map<std::uint32_t, std::vector<std::uint32_t>> derivations(
    std::span<const std::uint8_t> file) {
  std::map<std::uint32_t, std::vector<std::uint32_t>> edges;
  for (const Box& iref : child_boxes(meta_payload(file))) {
    if (iref.type != fourcc("iref") || iref.payload.size() < 4) continue;
    const std::size_t id_size = iref.payload[0] == 0 ? 2 : 4;
    // libheif reads the references one after another and ignores the size in each one's box
    // header, so this does too: a corrupt size must not hide a reference from the check.
    const std::span<const std::uint8_t> refs = iref.payload.subspan(4);
    std::size_t pos = 0;
    auto left = [&] { return refs.size() - pos; };
    while (left() >= 8) {
      const std::uint64_t size = read_be(refs, pos, 4);
      const auto type = static_cast<std::uint32_t>(read_be(refs, pos + 4, 4));
      pos += 8;
      if (size == 1) {  // a 64-bit size follows
        if (left() < 8) break;
        pos += 8;
      }
      if (type == fourcc("uuid")) {  // an extended type follows
        if (left() < 16) break;
        pos += 16;
      }
      if (left() < id_size + 2) break;
      const auto from = static_cast<std::uint32_t>(read_be(refs, pos, id_size));
      const std::size_t count = read_be(refs, pos + id_size, 2);
      pos += id_size + 2;
      for (std::size_t i = 0; i < count && left() >= id_size; ++i, pos += id_size) {
        const auto to = static_cast<std::uint32_t>(read_be(refs, pos, id_size));
        if (type == fourcc("dimg")) edges[from].push_back(to);
        if (type == fourcc("auxl")) edges[to].push_back(from);  // alpha `from` belongs to `to`
      }
    }
  }
  return edges;
}

// Depth-first over the derivations, never deeper than kMaxDerivationDepth + 1 itself: throws
// on a cycle or a longer chain.
void check_derivations(std::span<const std::uint8_t> file, const char* format) {
  const auto edges = derivations(file);
  std::map<std::uint32_t, bool> finished;  // false while the item is on the current path
  std::map<std::uint32_t, int> below;      // longest chain under a finished item
  auto too_deep = [&] {
    throw_invalid_image(std::string("corrupt ") + format + ": derived images nested more than " +
                        std::to_string(kMaxDerivationDepth) + " deep");
  };
  auto visit = [&](auto&& self, std::uint32_t item, int level) -> int {
    if (level > kMaxDerivationDepth) too_deep();
    if (const auto it = finished.find(item); it != finished.end()) {
      if (!it->second) {
        throw_invalid_image(std::string("corrupt ") + format + ": image item " +
                            std::to_string(item) + " is derived from itself");
      }
      if (level + below[item] > kMaxDerivationDepth) too_deep();
      return below[item];
    }
    finished[item] = false;
    int longest = 0;
    if (const auto it = edges.find(item); it != edges.end()) {
      for (std::uint32_t source : it->second) {
        longest = std::max(longest, self(self, source, level + 1) + 1);
      }
    }
    finished[item] = true;
    below[item] = longest;
    return longest;
  };
  for (const auto& edge : edges) visit(visit, edge.first, 0);
}

bool is_avif(std::span<const std::uint8_t> bytes) {
  const heif_brand2 brand =
      heif_read_main_brand(bytes.data(), static_cast<int>(std::min<std::size_t>(bytes.size(), 64)));
  return brand == heif_fourcc_to_brand("avif") || brand == heif_fourcc_to_brand("avis");
}

void check(const heif_error& error, const char* format, const char* step) {
  if (error.code == heif_error_Ok) return;
  if (error.subcode == heif_suberror_Security_limit_exceeded) {
    // libheif's own guards (item count, grid size, the side limit set below).
    throw Error(ErrorCode::kImageTooLarge,
                std::string(format) + " " + step + " hit a libheif limit: " + error.message);
  }
  if (error.subcode == heif_suberror_End_of_data) {
    throw_invalid_image(std::string("truncated ") + format + ": " + step +
                        " failed: " + error.message);
  }
  throw_invalid_image(std::string("corrupt or unsupported ") + format + " data: " + step +
                      " failed: " + error.message);
}

}  // namespace

bool is_heif(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 12 || std::memcmp(bytes.data() + 4, "ftyp", 4) != 0) return false;
  const heif_filetype_result result =
      heif_check_filetype(bytes.data(), static_cast<int>(std::min<std::size_t>(bytes.size(), 64)));
  return result == heif_filetype_yes_supported || result == heif_filetype_yes_unsupported;
}

Image decode_heif(std::span<const std::uint8_t> bytes, const DecodeOptions& options) {
  const char* format = is_avif(bytes) ? "AVIF" : "HEIF";
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) {
    throw_invalid_image(std::string(format) + " data over 2 GiB");
  }
  check_derivations(bytes, format);
  std::unique_ptr<heif_context, ContextFree> context(heif_context_alloc());
  if (!context) throw_invalid_image(std::string("cannot allocate a ") + format + " decoder");
  // libheif's own guard, on each side (it refuses a side >= the value); ours is the product.
  heif_context_set_maximum_image_size_limit(
      context.get(), static_cast<int>(std::min<std::int64_t>(options.max_pixels, INT_MAX - 1) + 1));
  // The caller already parallelises over images; tiles decode on the calling thread.
  heif_context_set_max_decoding_threads(context.get(), 0);
  // Parses the boxes only: no codec runs and no pixel buffer exists yet.
  check(heif_context_read_from_memory_without_copy(context.get(), bytes.data(), bytes.size(),
                                                   nullptr),
        format, "reading the container");

  heif_image_handle* raw_handle = nullptr;
  check(heif_context_get_primary_image_handle(context.get(), &raw_handle), format,
        "finding the primary image");
  const std::unique_ptr<heif_image_handle, HandleRelease> handle(raw_handle);

  // The coded size (ispe) is what the codec allocates; the handle's size is after the
  // transforms. Both must be within the limit.
  check_pixel_limit(format, heif_image_handle_get_width(handle.get()),
                    heif_image_handle_get_height(handle.get()), options.max_pixels);
  const int coded_width = heif_image_handle_get_ispe_width(handle.get());
  const int coded_height = heif_image_handle_get_ispe_height(handle.get());
  if (coded_width > 0 && coded_height > 0) {
    check_pixel_limit(format, coded_width, coded_height, options.max_pixels);
  }

  // What the codec and libheif will allocate by (the 'ispe' above is only the container's word).
  heif_boxes::check_coded_sizes(bytes, format, options.max_pixels);

  const std::unique_ptr<heif_decoding_options, OptionsFree> decoding(heif_decoding_options_alloc());
  decoding->ignore_transformations = options.apply_exif_orientation ? 0 : 1;
  heif_image* raw_image = nullptr;
  // 8-bit interleaved RGB: libheif converts YCbCr, drops alpha and reduces 10/12-bit input.
  check(heif_decode_image(handle.get(), &raw_image, heif_colorspace_RGB,
                          heif_chroma_interleaved_RGB, decoding.get()),
        format, "decoding the image");
  const std::unique_ptr<heif_image, ImageRelease> image(raw_image);

  const int width = heif_image_get_width(image.get(), heif_channel_interleaved);
  const int height = heif_image_get_height(image.get(), heif_channel_interleaved);
  int stride = 0;
  const std::uint8_t* plane =
      heif_image_get_plane_readonly(image.get(), heif_channel_interleaved, &stride);
  if (plane == nullptr || width <= 0 || height <= 0 ||
      heif_image_get_bits_per_pixel_range(image.get(), heif_channel_interleaved) != 8) {
    throw_invalid_image(std::string(format) + " decoder returned no 8-bit RGB image");
  }
  check_pixel_limit(format, width, height, options.max_pixels);  // the codec's own size
  const cv::Mat rgb(height, width, CV_8UC3, const_cast<std::uint8_t*>(plane),
                    static_cast<std::size_t>(stride));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  return from_mat(bgr);
}

}  // namespace siamface
