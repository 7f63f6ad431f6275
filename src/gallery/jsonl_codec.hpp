// The gallery's JSON-lines export format, apart from any database, so it can be tested and
// fuzzed alone. A header line {"format":"siamface-gallery","version":1,"model":..,"settings":..}
// then one face per line and one {"negative":{..}} line per negative example; floats
// round-trip exactly. A face line carries its thumbnail as "thumbnail_jpeg" (canonical base64 of
// a JPEG) when it has one. Version 1 files without negative lines or thumbnails read as before.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "siamface/gallery.hpp"

namespace siamface::gallery {

struct ExportHeader {
  std::optional<ModelInfo> model;                            // null in an empty gallery's export
  std::vector<std::pair<std::string, std::string>> settings;  // key, value
};

struct ParsedExport {
  ExportHeader header;
  std::vector<GalleryFace> faces;
  std::vector<NegativeExample> negatives;
};

// One line each, without the newline.
std::string header_line(const ExportHeader& header);
std::string face_line(const GalleryFace& face);
std::string negative_line(const NegativeExample& negative);

// Reads and validates a whole export. Throws Error(kInvalidArgument) naming `label`, the line
// number and the field; Error(kIo) when the stream fails.
ParsedExport parse_export(std::istream& in, const std::string& label);

}  // namespace siamface::gallery
