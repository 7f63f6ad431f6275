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
  // A small JPEG crop of the face (~112 px, make_face_thumbnail) stored beside the row; empty
  // for faces enrolled before schema 3 or imported from an export that had none. Not read back
  // by face()/faces_of(): see Gallery::face_thumbnail. Exports carry it (base64).
  std::vector<std::uint8_t> thumbnail_jpeg;
};

enum class AddStatus { kAdded, kDuplicate };

// A photo's face is stored at most once, under one person. Two faces of the same image (equal
// image_sha256) are the same face when their boxes overlap this much (intersection over union);
// another face of a group photo is a different one and may be stored under another person.
inline constexpr float kSameFaceMinIou = 0.5F;

struct AddOutcome {
  AddStatus status = AddStatus::kAdded;
  std::string face_id;  // the new face, or the existing one for a duplicate
  // Who the face is stored under: the face's own person when added; for a duplicate the person
  // who already has it, which may be another name ("already enrolled as Ada").
  std::string person;
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

// A face of an import that the gallery already holds under another name (counted in duplicates).
struct ImportConflict {
  std::string face_id;        // the face's id in the file
  std::string person;         // its name in the file
  std::string source_path;    // its source in the file
  std::string stored_person;  // the name the gallery holds it under
};

struct ImportResult {
  std::size_t added = 0;
  // Not stored because the gallery holds the face already: the same face id, or the same face
  // of the same image (kSameFaceMinIou) under any person.
  std::size_t duplicates = 0;
  std::size_t negatives = 0;   // negative examples added (those already present are skipped)
  std::vector<ImportConflict> other_person;  // the duplicates held under another name, in file order
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
// Unknown faces (docs/unknown-faces.md). Biometric data of people who never agreed to be
// enrolled, so keeping them is opt-in: "true"/"false", default false.
inline constexpr const char* kKeepUnknownSetting = "keep_unknown";
inline constexpr const char* kUnknownMaxFacesSetting = "unknown_max_faces";        // default 10000
inline constexpr const char* kUnknownMaxAgeDaysSetting = "unknown_max_age_days";   // default 30
inline constexpr std::int64_t kDefaultUnknownMaxFaces = 10000;
inline constexpr std::int64_t kDefaultUnknownMaxAgeDays = 30;

// One face nobody in the gallery matched, kept for clustering and naming later.
struct UnknownFace {
  // id, source_path, image_sha256 (of the photo, or of the thumbnail for a video frame), face,
  // embedding, model, created_unix_ms (the time it was seen), thumbnail_jpeg; person is empty.
  GalleryFace face;
  // Faces within kUnknownDedupDistance of a face already kept under the same key are the same
  // face seen again and are not stored: a photo's SHA-256, or "track:<stream>#<id>" for video.
  std::string source_key;
  float quality = 0.0F;                 // 0..1, unknown_face_quality()
  std::optional<std::int64_t> cluster;  // set by cluster_unknown()
};
inline constexpr float kUnknownDedupDistance = 0.3F;

struct UnknownPolicy {
  bool keep = false;
  std::int64_t max_faces = kDefaultUnknownMaxFaces;
  std::int64_t max_age_days = kDefaultUnknownMaxAgeDays;
};

enum class UnknownAddStatus { kAdded, kDuplicate };

struct UnknownPage {
  std::int64_t total = 0;
  std::vector<UnknownFace> items;  // newest first; embeddings and thumbnails left empty
};

struct ClosePair {
  std::int64_t cluster = 0;
  float distance = 0.0F;  // between the two centroids
};

struct UnknownCluster {
  std::int64_t id = 0;
  std::int64_t size = 0;
  std::vector<UnknownFace> faces;  // the first max_faces faces (oldest first), without embeddings
  std::vector<ClosePair> close;    // other clusters whose centroid lies within close_distance
};

struct ClusterPage {
  std::int64_t total = 0;
  std::vector<UnknownCluster> items;  // largest first, then by id
};

struct ClusterOptions {
  // Average-linkage merge limit over the gallery's distance; measured in docs/unknown-faces.md.
  float threshold = 0.5F;
  // Clusters whose centroids are nearer than this are reported as `close` (siblings,
  // look-alikes, one person split in two). Measured on 560 LFW faces: 15 of the 20 pairs that
  // were one person split in two, and 21 pairs of different people (docs/unknown-faces.md).
  float close_distance = 0.5F;
};

struct ClusterResult {
  std::size_t clusters = 0;
  std::size_t faces = 0;
  std::size_t kept_ids = 0;  // clusters that carried over an id from before
};

struct NegativeExample {
  std::string id;
  std::string person;  // "this face is not <person>"
  std::string source_path;
  Embedding embedding{};
  std::int64_t created_unix_ms = 0;
  bool operator==(const NegativeExample&) const = default;
};

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

  // One transaction for the whole batch: all faces are stored or none. A face already stored is
  // reported kDuplicate (with the existing face and its person) and changes nothing: the same
  // image_sha256 with an overlapping box (kSameFaceMinIou) under any person, or the same
  // image_sha256 under the same person (one face per person and photo). Faces earlier in the
  // batch count. The first face added to an empty gallery fixes its model; another model
  // throws Error(kModelMismatch).
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
  // Removing a person also removes their negative examples ("not <person>").
  std::size_t remove_person(const std::string& person);
  void remove_face(const std::string& face_id);
  // Moves every face of `from` to `to` (merging when `to` exists; a face whose image `to`
  // already has is dropped). Returns the number of faces now under `to` that came from `from`.
  std::size_t rename_person(const std::string& from, const std::string& to);
  // Every person, face and negative example; keeps settings, the model and the unknown faces
  // (purged on their own: purge_unknown).
  std::size_t remove_all();

  // JSON lines: a header line {"format":"siamface-gallery","version":1,"model":..,"settings":..}
  // then one face per line (with its thumbnail as base64 "thumbnail_jpeg" when it has one),
  // then one {"negative":{..}} line per correction. Unknown faces are not exported (a bounded,
  // purgeable cache, not the gallery). The file is created with mode 0600; floats and
  // thumbnails round-trip exactly.
  std::size_t export_jsonl(const std::string& file) const;
  // Validates every line first (Error(kInvalidArgument) naming the line number and field), then
  // adds all faces in one transaction, as add_faces does: a face the gallery already holds, under
  // any person, is counted as a duplicate and not stored again (ImportResult::other_person
  // lists those held under another name). Files without thumbnails import as before.
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
  // The stored embedding a search match was measured against (EmbeddingIndex::matched_embedding),
  // from memory: no database read. Empty when the face or person has gone since.
  Embedding matched_embedding(const IdentityMatch& match) const;

  // --- Unknown faces, clusters and corrections (docs/unknown-faces.md), on both backends.
  // Each write is one transaction.

  UnknownPolicy unknown_policy() const;  // from the settings, with the defaults above
  // Stores one unknown face (the caller applies the quality gate), unless one within
  // kUnknownDedupDistance was kept under the same source_key; then purges past the policy's
  // count and age bounds. The first face of an empty gallery fixes its model as add does.
  UnknownAddStatus add_unknown(const UnknownFace& face);
  UnknownPage list_unknown(std::int64_t offset, std::int64_t limit) const;
  std::optional<UnknownFace> unknown_face(const std::string& id) const;  // without embedding
  // Removes faces older than max_age_days and the oldest beyond max_faces (the policy's, or
  // these when given); returns how many went. `all` removes every unknown face.
  std::size_t purge_unknown(bool all = false);
  // Re-groups every unknown face (cluster_unknown_faces); a new cluster keeps the id of the old
  // one it shares the most faces with, others get ids never used before.
  ClusterResult cluster_unknown(const ClusterOptions& options = {});
  ClusterPage clusters(std::int64_t offset, std::int64_t limit, std::size_t max_faces = 12,
                       float close_distance = ClusterOptions{}.close_distance) const;
  // Enrols the cluster's faces (or the listed subset of them) as `person` (new or existing)
  // and removes them from the unknown faces; returns the new face ids. kNotFound for an
  // unknown cluster, kInvalidArgument for a listed face not in it.
  std::vector<std::string> promote_cluster(std::int64_t cluster, const std::string& person,
                                           const std::vector<std::string>& face_ids = {});
  std::size_t dismiss_cluster(std::int64_t cluster);  // deletes its faces; kNotFound if none
  // Moves every face and negative example of `from` to `into` (both must exist) and removes
  // `from`; returns the faces moved.
  std::size_t merge_people(const std::string& from, const std::string& into);
  // Moves the listed faces of `person` to `to` (new or existing); kInvalidArgument when one of
  // them is not `person`'s. A face whose photo `to` already has is dropped.
  std::size_t split_faces(const std::string& person, const std::vector<std::string>& face_ids,
                          const std::string& to);
  // "This face is not its person": removes the face and keeps its embedding as a negative
  // example for that person (the decision rule in identify.hpp). Returns the person.
  std::string mark_not(const std::string& face_id);
  // "This face is not `person`" for a probe embedding; `person` must exist. Returns its id.
  std::string add_negative(const std::string& person, const Embedding& embedding, const ModelInfo& model,
                           const std::string& source_path);
  std::vector<NegativeExample> negatives(const std::string* person = nullptr) const;
  // For each person with negative examples: the distance from `query` to the nearest one.
  std::vector<std::pair<std::string, float>> nearest_negatives(const Embedding& query) const;
  std::optional<std::vector<std::uint8_t>> face_thumbnail(const std::string& face_id) const;
  std::optional<std::vector<std::uint8_t>> unknown_thumbnail(const std::string& unknown_id) const;
  // People by name, paged, with one face id for a thumbnail.
  struct PersonPageItem {
    std::string person;
    std::int64_t face_count = 0;
    std::optional<std::string> thumbnail_face;  // a face that has a thumbnail
  };
  std::pair<std::int64_t, std::vector<PersonPageItem>> people_page(std::int64_t offset, std::int64_t limit) const;

  void reload();      // re-read every embedding from the file
  void checkpoint();  // fold the WAL into the database file and truncate it

  struct Impl;

 private:
  explicit Gallery(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace siamface
