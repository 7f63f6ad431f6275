// Clustered synthetic face embeddings for search tests and benchmarks: unit-length vectors,
// persons grouped into look-alike families, each person's faces scattered around their centre.
// Distances resemble a real recognizer's: ~0.5 between two faces of one person, ~1.1 between
// look-alikes, ~1.4 between strangers. Deterministic for a given seed, and any face or query can
// be regenerated alone (no need to keep a million rows in memory twice).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "siamface/types.hpp"

namespace siamface::test {

class SyntheticFaces {
 public:
  SyntheticFaces(std::size_t dims, std::size_t persons, std::uint64_t seed = 1,
                 std::size_t persons_per_family = 100, float face_noise = 0.35F)
      : dims_(dims), persons_(persons), seed_(seed), family_size_(persons_per_family),
        noise_(face_noise) {}

  std::size_t dims() const { return dims_; }
  std::size_t persons() const { return persons_; }
  static std::string person_name(std::size_t p) { return "person" + std::to_string(p); }
  static std::string face_id(std::size_t p, std::size_t f) {
    return "p" + std::to_string(p) + "f" + std::to_string(f);
  }

  // Face f of person p (any f: enrolled faces and fresh queries of a known person alike).
  Embedding face(std::size_t p, std::size_t f) const { return face(p, f, centre(p)); }
  // The same with centre(p) computed once by the caller (generating a million rows).
  Embedding face(std::size_t p, std::size_t f, const Embedding& person_centre) const {
    return around(person_centre, mix(seed_, 3, p, f), noise_);
  }
  // A person who is not among the persons(): their centre, not enrolled.
  Embedding stranger(std::size_t s) const { return around(centre(persons_ + s), mix(seed_, 5, s, 0), noise_); }

  // Person p's centre (p >= persons(): a stranger's).
  Embedding centre(std::size_t p) const { return centre_impl(p); }

 private:
  static std::uint64_t mix(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d) {
    std::uint64_t h = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x632BE59BD9B4E019ULL);
    h = (h ^ (h >> 31)) * 0xBF58476D1CE4E5B9ULL + c;
    h = (h ^ (h >> 29)) * 0x94D049BB133111EBULL + d;
    return h ^ (h >> 32);
  }

  Embedding gaussian(std::uint64_t seed) const {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0F, 1.0F / std::sqrt(static_cast<float>(dims_)));
    Embedding e(dims_);
    for (float& v : e) v = normal(rng);
    return e;
  }

  static void normalise(Embedding& e) {
    double norm = 0;
    for (float v : e) norm += double(v) * v;
    const auto inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& v : e) v *= inv;
  }

  Embedding around(const Embedding& centre, std::uint64_t seed, float spread) const {
    Embedding e = gaussian(seed);
    for (std::size_t i = 0; i < dims_; ++i) e[i] = centre[i] + spread * e[i];
    normalise(e);
    return e;
  }

  Embedding centre_impl(std::size_t p) const {
    Embedding family = gaussian(mix(seed_, 1, p / family_size_, 0));
    normalise(family);
    Embedding own = gaussian(mix(seed_, 2, p, 0));
    for (std::size_t i = 0; i < dims_; ++i) own[i] = 0.6F * family[i] + 0.8F * own[i];
    normalise(own);
    return own;
  }

  std::size_t dims_;
  std::size_t persons_;
  std::uint64_t seed_;
  std::size_t family_size_;
  float noise_;
};

}  // namespace siamface::test
