// The storage seam under Gallery: one implementation per backend (SQLite file, PostgreSQL).
// Gallery (gallery.cpp, unknown_faces.cpp, corrections.cpp) owns the rules (validation,
// duplicates, the model check, merges, the in-memory index); a Store only runs row-level
// statements and reports what others changed.
// Thread safety: none; Gallery serialises every call with its db mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"

namespace siamface::gallery {

struct IndexRow {
  std::string id;
  std::string person;
  Embedding embedding;
};

// What the in-memory index must do to match the store.
struct IndexSync {
  bool full = false;                 // replace the whole index with `rows`
  std::vector<IndexRow> rows;        // full: every row, oldest first; else rows added or changed
  std::vector<std::string> removed;  // face ids gone (only when !full)
  std::optional<ModelInfo> model;    // the gallery's model now
};

using Settings = std::vector<std::pair<std::string, std::string>>;

// One stored face of a photo, as the same-face check needs it.
struct ImageFace {
  std::string id;
  std::string person;
  Box box;
};

// One unknown face as clustering needs it.
struct UnknownRow {
  std::string id;
  Embedding embedding;
  std::optional<std::int64_t> cluster;
};

struct ClusterRow {
  std::int64_t id = 0;
  std::int64_t size = 0;
  Embedding centroid;
};

class Store {
 public:
  virtual ~Store() = default;

  // Names the gallery in messages: the file path, or the URL without its password.
  virtual const std::string& location() const = 0;

  // Every row (full), and the position from which poll() continues.
  virtual IndexSync load() = 0;
  // What others committed since load() or the last poll(); nullopt when nothing did.
  virtual std::optional<IndexSync> poll() = 0;
  // Cheap: false only when the store knows nothing changed (so search need not ask).
  virtual bool may_have_changed() { return true; }
  // Called (from another thread) when another node committed; PostgreSQL's LISTEN.
  virtual void on_change(std::function<void()> callback) { (void)callback; }
  // Stops calling it (joins the listener); the owner calls this before it goes away.
  virtual void stop_listening() noexcept {}

  // One write transaction at a time: begin_write(), the statements, commit(); rollback() on
  // any failure. begin_read()/end_read() give several reads one snapshot.
  virtual void begin_write() = 0;
  virtual void commit() = 0;
  virtual void rollback() noexcept = 0;
  virtual void begin_read() = 0;
  virtual void end_read() noexcept = 0;

  virtual std::optional<ModelInfo> read_model() = 0;
  virtual void write_model(const ModelInfo& model) = 0;
  virtual std::int64_t count_faces() = 0;
  virtual std::int64_t count_people() = 0;
  virtual std::int64_t count_faces_of(const std::string& person) = 0;
  virtual std::optional<std::string> face_with_image(const std::string& person, const std::string& image_sha256) = 0;
  virtual bool has_image(const std::string& image_sha256, const std::string* person) = 0;
  // Every stored face of the photo with this SHA-256, under any person, oldest first.
  virtual std::vector<ImageFace> faces_of_image(const std::string& image_sha256) = 0;
  virtual bool has_face_id(const std::string& id) = 0;
  virtual void insert_face(const GalleryFace& face) = 0;
  virtual std::size_t delete_person(const std::string& person) = 0;
  virtual bool delete_face(const std::string& id) = 0;
  // Faces of `from` whose image `to` already has.
  virtual std::vector<std::string> faces_sharing_images(const std::string& from, const std::string& to) = 0;
  virtual std::size_t move_person(const std::string& from, const std::string& to) = 0;
  virtual std::size_t delete_all_faces() = 0;
  virtual std::vector<std::string> face_ids() = 0;
  virtual void update_embedding(const std::string& id, const Embedding& embedding, const ModelInfo& model) = 0;
  virtual void update_geometry(const std::string& id, const Face& face) = 0;

  virtual std::optional<GalleryFace> face(const std::string& id) = 0;
  // Every face (or one person's), oldest first; with_thumbnails also reads each face's
  // thumbnail_jpeg (empty when it has none).
  virtual void for_each_face(const std::string* person, const std::function<void(GalleryFace&&)>& visit,
                             bool with_thumbnails = false) = 0;
  virtual std::vector<PersonSummary> people() = 0;  // by name

  virtual Settings settings() = 0;  // by key
  virtual std::optional<std::string> setting(const std::string& key) = 0;
  virtual void put_setting(const std::string& key, const std::string& value) = 0;
  virtual bool delete_setting(const std::string& key) = 0;

  virtual int schema_version() = 0;
  virtual std::int64_t stored_bytes() = 0;
  // --- Thumbnails, unknown faces, clusters, negative examples (issue 20; SQLite schema 3,
  // PostgreSQL migration 2). Both backends implement them; the defaults, for a backend that
  // does not, throw Error(kGallery) naming the feature, except the reads identify needs, which
  // answer "none".
  virtual std::optional<std::vector<std::uint8_t>> face_thumbnail(const std::string& id) {
    (void)id;
    return std::nullopt;
  }
  virtual std::optional<std::string> face_with_thumbnail(const std::string& person) {
    (void)person;
    return std::nullopt;
  }
  virtual void move_face(const std::string& id, const std::string& to) { (void)id, (void)to; unsupported("splitting a person"); }
  virtual void insert_unknown(const UnknownFace& face) { (void)face; unsupported("unknown faces"); }
  virtual std::vector<Embedding> unknown_embeddings_with_key(const std::string& key) {
    (void)key;
    unsupported("unknown faces");
  }
  virtual std::int64_t count_unknown() { unsupported("unknown faces"); }
  virtual std::vector<UnknownFace> unknown_page(std::int64_t offset, std::int64_t limit) {
    (void)offset, (void)limit;
    unsupported("unknown faces");
  }
  virtual std::optional<UnknownFace> unknown_face(const std::string& id) { (void)id; unsupported("unknown faces"); }
  virtual std::optional<std::vector<std::uint8_t>> unknown_thumbnail(const std::string& id) {
    (void)id;
    unsupported("unknown faces");
  }
  virtual std::size_t delete_unknown_before(std::int64_t unix_ms) { (void)unix_ms; unsupported("unknown faces"); }
  virtual std::size_t delete_unknown_beyond(std::int64_t keep_newest) { (void)keep_newest; unsupported("unknown faces"); }
  virtual std::size_t delete_all_unknown() { unsupported("unknown faces"); }
  virtual bool delete_unknown(const std::string& id) { (void)id; unsupported("unknown faces"); }
  virtual std::vector<UnknownRow> unknown_rows() { unsupported("clustering"); }  // oldest first
  virtual void set_unknown_cluster(const std::string& id, std::optional<std::int64_t> cluster) {
    (void)id, (void)cluster;
    unsupported("clustering");
  }
  virtual void replace_clusters(const std::vector<ClusterRow>& clusters) { (void)clusters; unsupported("clustering"); }
  // Ids are never reused: the store remembers the highest ever handed out.
  virtual std::int64_t take_cluster_ids(std::int64_t count) { (void)count; unsupported("clustering"); }
  virtual std::int64_t count_clusters() { unsupported("clustering"); }
  virtual std::vector<ClusterRow> cluster_page(std::int64_t offset, std::int64_t limit) {
    (void)offset, (void)limit;
    unsupported("clustering");
  }
  virtual std::vector<ClusterRow> all_clusters() { unsupported("clustering"); }
  virtual std::vector<UnknownFace> unknown_of_cluster(std::int64_t cluster, std::int64_t limit) {
    (void)cluster, (void)limit;
    unsupported("clustering");
  }
  virtual void delete_cluster(std::int64_t cluster) { (void)cluster; unsupported("clustering"); }
  virtual void insert_negative(const NegativeExample& negative) { (void)negative; unsupported("negative examples"); }
  virtual std::vector<NegativeExample> negatives(const std::string* person) {
    (void)person;
    return {};
  }
  // One person's negative examples, or every one (person == nullptr): erasure takes them along.
  virtual std::size_t delete_negatives(const std::string* person) {
    (void)person;
    return 0;
  }
  virtual std::size_t move_negatives(const std::string& from, const std::string& to) {
    (void)from, (void)to;
    unsupported("negative examples");
  }

  // After removals: make removed rows leave the files (SQLite folds its WAL). `must`: throw
  // Error(kGalleryBusy) when that could not be done now.
  virtual void forget_removed(bool must) = 0;

 protected:
  [[noreturn]] void unsupported(const char* feature) const {
    throw Error(ErrorCode::kGallery, std::string(feature) + ": not available on the gallery " +
                                         location() + " (docs/unknown-faces.md)");
  }
};

// src/gallery/sqlite_store.cpp
std::unique_ptr<Store> open_sqlite_store(const std::string& path, const GalleryOptions& options);
// src/gallery/postgres_store.cpp; for postgresql:// and postgres:// URLs (is_postgres_gallery).
std::unique_ptr<Store> open_postgres_store(const std::string& url, const GalleryOptions& options);

}  // namespace siamface::gallery
