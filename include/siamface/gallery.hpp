// The gallery: every enrolled face (embedding + provenance) in one SQLite file or a PostgreSQL
// database shared by many nodes (docs/postgresql.md), and an in-memory exact search index over
// all stored embeddings. No SQLite or libpqxx types appear here.
// The index itself is in embedding_index.hpp; the model identity in model_info.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "siamface/embedding_index.hpp"
#include "siamface/model_info.hpp"
#include "siamface/types.hpp"

namespace siamface {

// The one person-name rule, enforced by every Gallery write (add, import, rename) and called by
// the tools for early messages: valid UTF-8, 1..128 bytes, without control characters or '/' and
// '\\', not "." or "..", and not the reserved "unknown". Throws Error(kInvalidArgument) saying why.
void check_person_name(const std::string& name);

// The one threshold parser (the gallery's "threshold" setting; the tools' --threshold): a
// positive, finite decimal number, the whole text, independent of the C locale. Throws
// Error(kInvalidArgument) naming `field`.
float parse_distance_threshold(std::string_view text, std::string_view field = "threshold");
// The text parse_distance_threshold reads back, whatever the process locale (std::to_string
// would write "0,600000" under a German LC_NUMERIC).
std::string format_distance_threshold(float threshold);

// True for a postgresql:// or postgres:// URL (a PostgreSQL gallery, docs/postgresql.md);
// anything else names an SQLite file.
bool is_postgres_gallery(const std::string& path);

// $SIAMFACE_GALLERY, else $XDG_DATA_HOME/siamface/gallery.db, else
// ~/.local/share/siamface/gallery.db.
std::string default_gallery_path();

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
// of the database connection; the index sits behind a shared_mutex so searches run concurrently
// and writers wait. Several processes may use one file: writes are serialised by SQLite
// (waiting up to busy_timeout_ms), and searches reload the index when another process committed.
// PostgreSQL (a postgresql:// location): many processes on many hosts; writes are serialised
// by the server, and a listener thread brings other nodes' changes into the index (a change
// feed, LISTEN/NOTIFY), within milliseconds. A lost connection throws Error(kGalleryUnavailable)
// naming it, and the next call reconnects; searches then answer from the index in memory.
class Gallery {
 public:
  // Opens (creating when allowed) the gallery and loads every embedding into memory. `path` is
  // an SQLite file, or a postgresql:// URL (libpq's URI; the database must exist, its tables
  // are created or migrated unless read_only; kGalleryUnavailable when unreachable).
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
