// The gallery: every enrolled face (embedding + provenance) in one SQLite file, and an
// in-memory exact search index over all stored embeddings. No SQLite types appear here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "siamface/engine.hpp"
#include "siamface/types.hpp"

namespace siamface {

// $SIAMFACE_GALLERY, else $XDG_DATA_HOME/siamface/gallery.db, else
// ~/.local/share/siamface/gallery.db.
std::string default_gallery_path();

// How one identity's distance to a query is computed from its stored embeddings:
//  kMin:  the smallest Euclidean distance to any of its embeddings (nearest neighbour;
//         robust when one person's photos differ a lot). IdentityMatch::face_id is that face.
//  kMean: the Euclidean distance to the mean (centroid) of its embeddings (face-api's
//         "LabeledFaceDescriptors" style; smoother, one outlier photo weighs less).
//         IdentityMatch::face_id is empty.
enum class IdentityDistance { kMin, kMean };

const char* to_string(IdentityDistance mode);
IdentityDistance parse_identity_distance(const std::string& name);  // "min" | "mean"; throws Error

struct IdentityMatch {
  std::string person;
  float distance = 0.0F;  // Euclidean, smaller is closer
  std::string face_id;    // the closest face for kMin; empty for kMean
};

struct EmbeddingIndexOptions {
  bool use_simd = true;  // AVX2+FMA when the CPU has it (checked at run time), else scalar
  int threads = 0;       // 0: std::thread::hardware_concurrency(); 1: single-threaded
  std::size_t parallel_min_rows = 32768;  // below this many rows a query runs on one thread
  // From this many rows on, searches take candidates from an approximate (FAISS HNSW) index and
  // re-rank them exactly; below it every search is exact. 0: always exact. docs/search.md.
  std::size_t approximate_min_rows = 100'000;
};

// All embeddings in one contiguous row-major float matrix (N x dimensions(), fixed by the first row); searches are
// exact (brute force), SIMD, and split over threads for large N. Usable without a gallery.
// Thread safety: const methods may run concurrently with each other; mutating methods
// (add/remove/rename/clear/reserve) need exclusive access (Gallery wraps a shared_mutex).
class EmbeddingIndex {
 public:
  explicit EmbeddingIndex(const EmbeddingIndexOptions& options = {});
  ~EmbeddingIndex();
  EmbeddingIndex(EmbeddingIndex&&) noexcept;
  EmbeddingIndex& operator=(EmbeddingIndex&&) noexcept;
  EmbeddingIndex(const EmbeddingIndex&) = delete;
  EmbeddingIndex& operator=(const EmbeddingIndex&) = delete;

  // Throws Error(kInvalidArgument) for an empty or already present face id, an empty person or
  // a non-finite embedding.
  void add(const std::string& face_id, const std::string& person, const Embedding& embedding);
  bool remove(const std::string& face_id);             // false when absent
  std::size_t remove_person(const std::string& person);  // number of rows removed
  std::size_t rename_person(const std::string& from, const std::string& to);  // merges
  void clear();
  void reserve(std::size_t rows);

  std::size_t size() const;           // rows (embeddings)
  std::size_t dimensions() const;     // floats per embedding: fixed by the first add, 0 while empty
  std::size_t person_count() const;   // identities with at least one row
  bool contains(const std::string& face_id) const;
  // Approximate bytes held in all (matrix, face ids, identity slots, centroids, lookups, and the
  // approximate index once built).
  std::size_t memory_bytes() const;

  // Top-k identities, closest first (ties by name). k == 0: every identity.
  std::vector<IdentityMatch> search(const Embedding& query, std::size_t k,
                                    IdentityDistance mode = IdentityDistance::kMin) const;
  // One result list per query; faster than looping (rows are read once per group of queries).
  std::vector<std::vector<IdentityMatch>> search_batch(
      std::span<const Embedding> queries, std::size_t k,
      IdentityDistance mode = IdentityDistance::kMin) const;

  const EmbeddingIndexOptions& options() const;
  static bool simd_supported();  // this CPU runs the AVX2 kernel

  // The approximate index, saved beside a gallery file (docs/search.md). save_approximate builds
  // it when the size calls for one and writes it atomically (mode 0600), or removes a file left
  // from a larger gallery. load_approximate adopts the file only when it matches these rows
  // exactly (count and a checksum of ids and embeddings), returning true; an absent, stale or
  // corrupt file returns false and the index is rebuilt here when the size calls for one. Both
  // need exclusive access. approximate_active(): searches now use the approximate index.
  void save_approximate(const std::string& path);
  bool load_approximate(const std::string& path);
  bool approximate_active() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// One stored face: the embedding plus everything needed to explain or recompute it.
struct GalleryFace {
  std::string id;  // UUID (v4, lower-case hex); generated on add when empty
  std::string person;
  std::string source_path;   // where the photo came from, as given at enrolment
  std::string image_sha256;  // of the source file bytes, lower-case hex
  Face face;                 // box, detector score, 68 landmarks, quality measures
  Embedding embedding{};
  ModelInfo model;                    // must equal the gallery's model
  std::int64_t created_unix_ms = 0;   // set to now on add when 0
};

enum class AddStatus { kAdded, kDuplicate };

struct AddOutcome {
  AddStatus status = AddStatus::kAdded;
  std::string face_id;  // the new face, or the existing one for a duplicate
};

struct PersonSummary {
  std::string person;
  std::int64_t face_count = 0;
};

struct FaceSource {  // what `siamface reindex` needs to recompute one embedding
  std::string id;
  std::string person;
  std::string source_path;
  std::string image_sha256;
  Face face;
};

struct ReindexUpdate {
  std::string face_id;
  Embedding embedding{};
  std::optional<Face> face;  // new detection/landmarks when recomputed, else kept
};

struct GalleryInfo {
  std::string path;
  int schema_version = 0;
  std::optional<ModelInfo> model;  // empty until the first face is added
  std::int64_t person_count = 0;
  std::int64_t face_count = 0;
  std::optional<float> threshold;  // the "threshold" setting, when set
  std::int64_t file_bytes = 0;     // database + WAL
};

struct ImportResult {
  std::size_t added = 0;
  std::size_t duplicates = 0;  // same face id, or same person + image already present
};

struct GalleryOptions {
  bool create = true;             // create the file (mode 0600) when it does not exist
  // Open for reading only (implies create = false): works on a file or folder we cannot write;
  // every write method then throws Error(kGallery) saying the gallery is read-only.
  bool read_only = false;
  int busy_timeout_ms = 5000;     // wait this long for another writer, then Error(kGalleryBusy)
  EmbeddingIndexOptions index{};  // search settings for the in-memory index
};

// Setting keys the library itself understands.
inline constexpr const char* kThresholdSetting = "threshold";

// Thread safety: every method is safe to call from many threads at once. A mutex serialises use
// of the SQLite connection; the index sits behind a shared_mutex so searches run concurrently
// and writers wait. Several processes may use one file: writes are serialised by SQLite
// (waiting up to busy_timeout_ms), and searches reload the index when another process committed.
class Gallery {
 public:
  // Opens (creating when allowed) the gallery and loads every embedding into memory.
  // Throws Error(kGallery) for a corrupt, non-SQLite or newer-schema file, kNotFound when the
  // file is absent and options.create is false, kGalleryBusy when locked past the timeout.
  // Without options.read_only, a file or folder we may not write is refused up front
  // (Error(kGallery), "read-only") instead of failing at the first write.
  static Gallery open(const std::string& path, const GalleryOptions& options = {});
  ~Gallery();
  Gallery(Gallery&&) noexcept;
  Gallery& operator=(Gallery&&) noexcept;

  const std::string& path() const;

  // One transaction for the whole batch: all faces are stored or none. A face whose person
  // already has the same image_sha256 is reported kDuplicate and changes nothing. The first face
  // added to an empty gallery fixes its model; another model throws Error(kModelMismatch).
  std::vector<AddOutcome> add_faces(const std::vector<GalleryFace>& batch);
  AddOutcome add_face(const GalleryFace& face);

  bool has_image(const std::string& image_sha256) const;
  bool has_image(const std::string& image_sha256, const std::string& person) const;
  std::optional<GalleryFace> face(const std::string& face_id) const;
  std::vector<GalleryFace> faces_of(const std::string& person) const;  // oldest first
  std::vector<PersonSummary> people() const;                            // by name
  std::int64_t face_count() const;

  // Removals throw Error(kNotFound) when nothing matches. They checkpoint the WAL afterwards
  // (best effort) so, with secure_delete, removed embeddings do not linger in the files.
  std::size_t remove_person(const std::string& person);
  void remove_face(const std::string& face_id);
  // Moves every face of `from` to `to` (merging when `to` exists; a face whose image `to`
  // already has is dropped). Returns the number of faces now under `to` that came from `from`.
  std::size_t rename_person(const std::string& from, const std::string& to);
  std::size_t remove_all();  // keeps settings and the model

  // JSON lines: a header line {"format":"siamface-gallery","version":1,"model":..,"settings":..}
  // then one face per line. The file is created with mode 0600; floats round-trip exactly.
  std::size_t export_jsonl(const std::string& file) const;
  // Validates every line first (Error(kInvalidArgument) naming the line number and field), then
  // adds all faces in one transaction.
  ImportResult import_jsonl(const std::string& file);
  // The same from a stream; `label` names the input in error messages (the file name above).
  ImportResult import_jsonl(std::istream& in, const std::string& label);

  GalleryInfo info() const;
  std::optional<ModelInfo> model() const;
  std::optional<std::string> setting(const std::string& key) const;
  void set_setting(const std::string& key, const std::string& value);  // "threshold" must parse as a float
  bool erase_setting(const std::string& key);

  // Reindex support: every face's source, then swap all embeddings and the model atomically.
  // Faces missing from `updates` are removed when remove_unlisted, else Error(kInvalidArgument)
  // and nothing changes.
  std::vector<FaceSource> face_sources() const;
  void reindex(const std::vector<ReindexUpdate>& updates, const ModelInfo& model,
               bool remove_unlisted = false);

  // Throws Error(kModelMismatch) when `model` differs from the gallery's (run `siamface
  // reindex`). An empty gallery returns no matches.
  std::vector<IdentityMatch> search(const Embedding& query, const ModelInfo& model, std::size_t k,
                                    IdentityDistance mode = IdentityDistance::kMin) const;
  std::vector<std::vector<IdentityMatch>> search_batch(
      std::span<const Embedding> queries, const ModelInfo& model, std::size_t k,
      IdentityDistance mode = IdentityDistance::kMin) const;

  void reload();      // re-read every embedding from the file
  void checkpoint();  // fold the WAL into the database file and truncate it

  struct Impl;

 private:
  explicit Gallery(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace siamface
