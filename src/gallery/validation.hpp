// Checks on everything a gallery stores, shared by both backends and the JSON-lines codec.
// Each throws Error(kInvalidArgument) whose message starts with `where` and names the field.
#pragma once

#include <string>

#include "siamface/gallery.hpp"

namespace siamface::gallery {

// Floats per embedding a row may hold (the largest recognizer has 640).
inline constexpr std::size_t kMaxEmbeddingFloats = 4096;

bool is_lower_hex(const std::string& text, std::size_t size);
bool is_face_id(const std::string& text);  // a lower-case 8-4-4-4-12 UUID

// check_person_name, with `where` in front of its message.
void validate_person(const std::string& person, const std::string& where);
void validate_model(const ModelInfo& model, const std::string& where);
void validate_face(const GalleryFace& face, const std::string& where);
void require_finite(float value, const std::string& where, const char* field);
// Setting keys are non-empty; the value of "threshold" must parse (parse_distance_threshold).
void validate_setting(const std::string& key, const std::string& value);

bool same_model(const ModelInfo& a, const ModelInfo& b);
[[noreturn]] void throw_model_mismatch(const std::string& gallery, const ModelInfo& stored,
                                       const ModelInfo& given);

}  // namespace siamface::gallery
