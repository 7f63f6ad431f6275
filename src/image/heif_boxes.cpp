// Box walking, and the coded sizes of HEIF/AVIF files (heif_boxes.hpp). Written by hand because no
// Debian library exposes them: libheif 1.15 reads these fields but offers no API to get them
// before it decodes (and allocates), and libde265/dav1d only parse them inside a decode.
// Syntax: ISO/IEC 14496-12 (iloc, iinf, idat), 23008-12 (grid, iovl), H.265 7.3.2.2 (SPS) and
// the AV1 bitstream specification 5.5 (sequence header OBU).
#include "image/heif_boxes.hpp"

#include <map>
#include <string>

#include "image/format_decoders.hpp"
#include "siamface/errors.hpp"

namespace siamface::heif_boxes {

std::uint64_t read_be(std::span<const std::uint8_t> bytes, std::size_t at, std::size_t count) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < count; ++i) value = value << 8 | bytes[at + i];
  return value;
}

std::vector<Box> child_boxes(std::span<const std::uint8_t> bytes) {
  std::vector<Box> boxes;
  std::size_t pos = 0;
  while (bytes.size() - pos >= 8) {
    std::uint64_t size = read_be(bytes, pos, 4);
    const auto type = static_cast<std::uint32_t>(read_be(bytes, pos + 4, 4));
    std::size_t header = 8;
    if (size == 1) {
      if (bytes.size() - pos < 16) break;
      size = read_be(bytes, pos + 8, 8);
      header = 16;
    } else if (size == 0) {
      size = bytes.size() - pos;
    }
    if (size < header || size > bytes.size() - pos) break;
    boxes.push_back({type, bytes.subspan(pos + header, static_cast<std::size_t>(size) - header)});
    pos += static_cast<std::size_t>(size);
  }
  return boxes;
}

std::span<const std::uint8_t> meta_payload(std::span<const std::uint8_t> file) {
  for (const Box& box : child_boxes(file)) {
    if (box.type == fourcc("meta")) return box.payload.size() < 4 ? box.payload.subspan(0, 0) : box.payload.subspan(4);
  }
  return {};
}

namespace {

// A field ran past its bytes.
struct Truncated {};

// MSB-first bits, with the H.265 and AV1 variable-length codes.
class BitReader {
 public:
  explicit BitReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::uint32_t bits(int count) {  // count <= 32
    std::uint64_t value = 0;
    for (int i = 0; i < count; ++i) {
      if (pos_ >= bytes_.size() * 8) throw Truncated{};
      value = value << 1 | ((bytes_[pos_ / 8] >> (7 - pos_ % 8)) & 1U);
      ++pos_;
    }
    return static_cast<std::uint32_t>(value);
  }
  void skip(std::size_t count) {
    if (count > bytes_.size() * 8 - pos_) throw Truncated{};
    pos_ += count;
  }
  // H.265 ue(v) and AV1 uvlc(): leading zeros, a one, then that many bits.
  std::uint64_t exp_golomb() {
    int zeros = 0;
    while (bits(1) == 0) {
      if (++zeros > 32) throw Truncated{};  // no valid code is that long
    }
    return (std::uint64_t{1} << zeros) - 1 + bits(zeros);
  }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

struct Size {
  std::uint64_t width = 0;
  std::uint64_t height = 0;
};

// pic_width/height_in_luma_samples of an HEVC SPS NAL unit (with its 2-byte header).
Size hevc_sps_size(std::span<const std::uint8_t> nal) {
  std::vector<std::uint8_t> rbsp;  // without the emulation-prevention bytes (00 00 03)
  int zeros = 0;
  for (std::size_t i = 2; i < nal.size(); ++i) {
    if (zeros >= 2 && nal[i] == 3) {
      zeros = 0;
      continue;
    }
    rbsp.push_back(nal[i]);
    zeros = nal[i] == 0 ? zeros + 1 : 0;
  }
  BitReader r(rbsp);
  r.skip(4);  // sps_video_parameter_set_id
  const std::uint32_t sub_layers = r.bits(3);  // sps_max_sub_layers_minus1
  r.skip(1);
  r.skip(96);  // profile_tier_level: the general profile (88 bits) and general_level_idc
  bool profile_present[8] = {}, level_present[8] = {};
  for (std::uint32_t i = 0; i < sub_layers; ++i) {
    profile_present[i] = r.bits(1) != 0;
    level_present[i] = r.bits(1) != 0;
  }
  if (sub_layers > 0) r.skip(2 * (8 - sub_layers));
  for (std::uint32_t i = 0; i < sub_layers; ++i) {
    if (profile_present[i]) r.skip(88);
    if (level_present[i]) r.skip(8);
  }
  r.exp_golomb();                         // sps_seq_parameter_set_id
  if (r.exp_golomb() == 3) r.skip(1);     // chroma_format_idc 3: separate_colour_plane_flag
  const std::uint64_t width = r.exp_golomb();
  return {width, r.exp_golomb()};
}

// max_frame_width/height of an AV1 sequence header OBU's payload.
Size av1_sequence_size(std::span<const std::uint8_t> payload) {
  BitReader r(payload);
  r.skip(4);  // seq_profile, still_picture
  if (r.bits(1) != 0) {  // reduced_still_picture_header
    r.skip(5);
  } else {
    bool decoder_model_info = false;
    std::size_t buffer_delay_bits = 0;
    if (r.bits(1) != 0) {  // timing_info_present_flag
      r.skip(64);
      if (r.bits(1) != 0) r.exp_golomb();  // equal_picture_interval: num_ticks_per_picture_minus_1
      decoder_model_info = r.bits(1) != 0;
      if (decoder_model_info) {
        buffer_delay_bits = r.bits(5) + 1;
        r.skip(32 + 5 + 5);
      }
    }
    const bool initial_display_delay = r.bits(1) != 0;
    const std::uint32_t operating_points = r.bits(5) + 1;
    for (std::uint32_t i = 0; i < operating_points; ++i) {
      r.skip(12);                       // operating_point_idc
      if (r.bits(5) > 7) r.skip(1);     // seq_level_idx > 7: seq_tier
      if (decoder_model_info && r.bits(1) != 0) r.skip(2 * buffer_delay_bits + 1);
      if (initial_display_delay && r.bits(1) != 0) r.skip(4);
    }
  }
  const int width_bits = static_cast<int>(r.bits(4)) + 1;
  const int height_bits = static_cast<int>(r.bits(4)) + 1;
  const std::uint64_t width = std::uint64_t{r.bits(width_bits)} + 1;
  return {width, std::uint64_t{r.bits(height_bits)} + 1};
}

// A coded picture may be larger than the image it holds: HEVC encoders pad each side up to the
// coding tree block (at most 64 px; x265 codes a 64x48 picture as 64x64) and crop it back by the
// conformance window or 'clap'. So coded sizes get that much slack per side; a canvas gets none.
constexpr std::uint64_t kCodedPadding = 64;

class SizeCheck {
 public:
  SizeCheck(const char* format, std::int64_t max_pixels) : format_(format), max_pixels_(max_pixels) {}

  // Checks the size `read` gives, less `slack` per side; `what` names the field in messages.
  template <typename Read>
  void check(const std::string& what, Read&& read, std::uint64_t slack = 0) const {
    Size size;
    try {
      size = read();
    } catch (const Truncated&) {
      throw_invalid_image(std::string("corrupt ") + format_ + ": truncated " + what);
    }
    if (size.width == 0 || size.height == 0) {
      throw_invalid_image(std::string("corrupt ") + format_ + ": " + what + " gives an empty size " +
                          std::to_string(size.width) + "x" + std::to_string(size.height));
    }
    constexpr std::uint64_t kMaxSide = std::uint64_t{1} << 32;  // keeps the int64 check exact
    auto side = [&](std::uint64_t coded) {
      return static_cast<std::int64_t>(std::min(coded > slack ? coded - slack : 1, kMaxSide));
    };
    if (side(size.width) > max_pixels_ / side(size.height)) {
      throw Error(ErrorCode::kImageTooLarge, std::string(format_) + " " + what + " gives " +
                                                 std::to_string(size.width) + "x" + std::to_string(size.height) +
                                                 " pixels, over the limit of " + std::to_string(max_pixels_));
    }
  }

  // Every HEVC SPS among length-prefixed NAL units (`length_bytes` each).
  void hevc_nal_units(std::span<const std::uint8_t> data, std::size_t length_bytes, const std::string& where) const {
    std::size_t pos = 0;
    while (data.size() - pos >= length_bytes) {
      const std::uint64_t length = read_be(data, pos, length_bytes);
      pos += length_bytes;
      if (length > data.size() - pos) break;  // libheif/libde265 report it
      const auto nal = data.subspan(pos, static_cast<std::size_t>(length));
      if (nal.size() >= 2 && ((nal[0] >> 1) & 0x3F) == 33) {
        check("HEVC sequence parameter set in " + where, [&] { return hevc_sps_size(nal); }, kCodedPadding);
      }
      pos += static_cast<std::size_t>(length);
    }
  }

  // Every AV1 sequence header among OBUs.
  void av1_obus(std::span<const std::uint8_t> data, const std::string& where) const {
    std::size_t pos = 0;
    while (pos < data.size()) {
      const std::uint8_t header = data[pos++];
      const int type = (header >> 3) & 0xF;
      if ((header & 0x04) != 0) ++pos;  // obu_extension_header
      std::uint64_t size = 0;
      if ((header & 0x02) != 0) {  // obu_has_size_field: leb128
        int shift = 0;
        for (bool more = true; more; shift += 7) {
          if (pos >= data.size() || shift > 56) return;  // dav1d reports it
          more = (data[pos] & 0x80) != 0;
          size |= std::uint64_t{data[pos++] & 0x7FU} << shift;
        }
      } else {
        size = pos <= data.size() ? data.size() - pos : 0;
      }
      if (pos > data.size() || size > data.size() - pos) return;
      const auto payload = data.subspan(pos, static_cast<std::size_t>(size));
      if (type == 1) check("AV1 sequence header in " + where, [&] { return av1_sequence_size(payload); }, kCodedPadding);
      pos += static_cast<std::size_t>(size);
    }
  }

 private:
  const char* format_;
  std::int64_t max_pixels_;
};

// hvcC: 22 bytes of profile fields, lengthSizeMinusOne, then arrays of parameter sets.
void check_hvcc(const SizeCheck& sizes, std::span<const std::uint8_t> hvcc) {
  if (hvcc.size() < 23) return;
  std::size_t pos = 23;
  for (int array = 0, arrays = hvcc[22]; array < arrays; ++array) {
    if (hvcc.size() - pos < 3) return;
    const int nal_type = hvcc[pos] & 0x3F;
    const std::uint64_t count = read_be(hvcc, pos + 1, 2);
    pos += 3;
    for (std::uint64_t n = 0; n < count; ++n) {
      if (hvcc.size() - pos < 2) return;
      const std::uint64_t length = read_be(hvcc, pos, 2);
      pos += 2;
      if (length > hvcc.size() - pos) return;
      if (nal_type == 33) {
        const auto nal = hvcc.subspan(pos, static_cast<std::size_t>(length));
        sizes.check("HEVC sequence parameter set in hvcC", [&] { return hevc_sps_size(nal); }, kCodedPadding);
      }
      pos += static_cast<std::size_t>(length);
    }
  }
}

struct ItemExtent {
  int construction_method = 0;  // 0: file offset, 1: in idat, 2: item reference (not read)
  std::uint64_t offset = 0;     // base_offset + extent_offset
  std::uint64_t length = 0;     // 0: to the end of the file or idat
};

// The extents of every item in an 'iloc' payload; a truncated box ends the list.
std::map<std::uint32_t, std::vector<ItemExtent>> item_locations(std::span<const std::uint8_t> iloc) {
  std::map<std::uint32_t, std::vector<ItemExtent>> items;
  std::size_t pos = 0;
  auto field = [&](std::size_t bytes) {
    if (iloc.size() - pos < bytes) throw Truncated{};
    const std::uint64_t value = read_be(iloc, pos, bytes);
    pos += bytes;
    return value;
  };
  try {
    const auto version = static_cast<int>(field(1));
    field(3);  // flags
    const std::uint64_t sizes = field(2);
    const std::size_t offset_size = (sizes >> 12) & 0xF, length_size = (sizes >> 8) & 0xF;
    const std::size_t base_offset_size = (sizes >> 4) & 0xF;
    const std::size_t index_size = version == 1 || version == 2 ? sizes & 0xF : 0;
    if (offset_size > 8 || length_size > 8 || base_offset_size > 8 || index_size > 8) return items;
    const std::uint64_t count = field(version < 2 ? 2 : 4);
    for (std::uint64_t i = 0; i < count; ++i) {
      const auto id = static_cast<std::uint32_t>(field(version < 2 ? 2 : 4));
      const int method = version == 1 || version == 2 ? static_cast<int>(field(2) & 0xF) : 0;
      field(2);  // data_reference_index
      const std::uint64_t base = field(base_offset_size);
      const std::uint64_t extents = field(2);
      for (std::uint64_t e = 0; e < extents; ++e) {
        field(index_size);
        const std::uint64_t offset = field(offset_size);
        items[id].push_back({method, base + offset, field(length_size)});
      }
    }
  } catch (const Truncated&) {
  }
  return items;
}

// The item types of an 'iinf' payload (infe version 2 and 3, which HEIF requires).
std::map<std::uint32_t, std::uint32_t> item_types(std::span<const std::uint8_t> iinf) {
  std::map<std::uint32_t, std::uint32_t> types;
  if (iinf.size() < 4) return types;
  const std::size_t header = 4 + (iinf[0] == 0 ? 2 : 4);
  if (iinf.size() < header) return types;
  for (const Box& infe : child_boxes(iinf.subspan(header))) {
    if (infe.type != fourcc("infe") || infe.payload.size() < 4) continue;
    const int version = infe.payload[0];
    if (version < 2) continue;
    const std::size_t id_size = version == 2 ? 2 : 4;
    if (infe.payload.size() < 4 + id_size + 2 + 4) continue;
    const auto id = static_cast<std::uint32_t>(read_be(infe.payload, 4, id_size));
    types[id] = static_cast<std::uint32_t>(read_be(infe.payload, 4 + id_size + 2, 4));
  }
  return types;
}

// An item's bytes, its extents joined, as libheif reads them; refuses extents that add up to more
// than the file (each is clipped to the file; what lies outside it libheif reports).
std::vector<std::uint8_t> item_data(const std::vector<ItemExtent>& extents, std::span<const std::uint8_t> file,
                                    std::span<const std::uint8_t> idat, const char* format, std::uint32_t id) {
  std::vector<std::uint8_t> data;
  for (const ItemExtent& extent : extents) {
    const std::span<const std::uint8_t> source = extent.construction_method == 0 ? file : idat;
    if (extent.construction_method > 1 || extent.offset >= source.size()) continue;
    const std::size_t available = source.size() - static_cast<std::size_t>(extent.offset);
    const std::size_t length =
        extent.length == 0 ? available : static_cast<std::size_t>(std::min<std::uint64_t>(extent.length, available));
    if (length > file.size() - data.size()) {
      throw_invalid_image(std::string("corrupt ") + format + ": the extents of item " + std::to_string(id) +
                          " add up to more than the file");
    }
    const auto part = source.subspan(static_cast<std::size_t>(extent.offset), length);
    data.insert(data.end(), part.begin(), part.end());
  }
  return data;
}

// Output width and height of a 'grid' (byte 4) or 'iovl' (after four 16-bit fill values) item:
// 16-bit fields, or 32-bit ones when flags bit 0 is set.
Size derived_output_size(std::span<const std::uint8_t> data, std::size_t at) {
  if (data.size() < 2) throw Truncated{};
  const std::size_t field = (data[1] & 1) != 0 ? 4 : 2;
  if (data.size() < at + 2 * field) throw Truncated{};
  return {read_be(data, at, field), read_be(data, at + field, field)};
}

}  // namespace

void check_coded_sizes(std::span<const std::uint8_t> file, const char* format, std::int64_t max_pixels) {
  const SizeCheck sizes(format, max_pixels);
  const std::span<const std::uint8_t> meta = meta_payload(file);
  std::span<const std::uint8_t> iloc, iinf, idat;
  for (const Box& box : child_boxes(meta)) {
    if (box.type == fourcc("iloc") && iloc.empty()) iloc = box.payload;
    if (box.type == fourcc("iinf") && iinf.empty()) iinf = box.payload;
    if (box.type == fourcc("idat") && idat.empty()) idat = box.payload;
    if (box.type != fourcc("iprp")) continue;
    for (const Box& ipco : child_boxes(box.payload)) {
      if (ipco.type != fourcc("ipco")) continue;
      // Every codec configuration, whichever item it belongs to.
      for (const Box& property : child_boxes(ipco.payload)) {
        if (property.type == fourcc("hvcC")) check_hvcc(sizes, property.payload);
        if (property.type == fourcc("av1C") && property.payload.size() > 4) {
          sizes.av1_obus(property.payload.subspan(4), "av1C");
        }
      }
    }
  }
  const auto types = item_types(iinf);
  for (const auto& [id, extents] : item_locations(iloc)) {
    const auto type = types.find(id);
    if (type == types.end()) continue;
    const std::string where = "item " + std::to_string(id);
    if (type->second == fourcc("hvc1")) {
      sizes.hevc_nal_units(item_data(extents, file, idat, format, id), 4, where);  // libheif's 4-byte lengths
    } else if (type->second == fourcc("av01")) {
      sizes.av1_obus(item_data(extents, file, idat, format, id), where);
    } else if (type->second == fourcc("grid")) {
      const auto data = item_data(extents, file, idat, format, id);
      sizes.check("grid output size of " + where, [&] { return derived_output_size(data, 4); });
    } else if (type->second == fourcc("iovl")) {
      const auto data = item_data(extents, file, idat, format, id);
      sizes.check("overlay output size of " + where, [&] { return derived_output_size(data, 2 + 4 * 2); });
    }
  }
}

}  // namespace siamface::heif_boxes
