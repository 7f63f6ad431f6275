// Gallery's state and the helpers its writes share, for the files that implement Gallery:
// gallery.cpp (enrolled faces, settings, search), unknown_faces.cpp (unknown faces and their
// clusters) and corrections.cpp (merges, splits, negative examples).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "gallery/gallery_store.hpp"
#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"

namespace siamface {

namespace gallery {

// begin_write() ... commit(); rolls back when left by an exception.
class WriteScope {
 public:
  explicit WriteScope(Store& store) : store_(store) { store_.begin_write(); }
  ~WriteScope() {
    if (open_) store_.rollback();
  }
  WriteScope(const WriteScope&) = delete;
  WriteScope& operator=(const WriteScope&) = delete;
  void commit() {
    store_.commit();
    open_ = false;
  }

 private:
  Store& store_;
  bool open_ = true;
};

class ReadScope {
 public:
  explicit ReadScope(Store& store) : store_(store) { store_.begin_read(); }
  ~ReadScope() { store_.end_read(); }
  ReadScope(const ReadScope&) = delete;
  ReadScope& operator=(const ReadScope&) = delete;

 private:
  Store& store_;
};

inline void check_page(std::int64_t offset, std::int64_t limit) {
  if (offset < 0) throw Error(ErrorCode::kInvalidArgument, "offset must be 0 or more");
  if (limit < 1) throw Error(ErrorCode::kInvalidArgument, "limit must be 1 or more");
}

// What a write changed besides its rows: what Gallery::Impl::commit must bring in step after
// committing. Every member has a default, so a write names only what it did.
struct WriteEffects {
  bool cleared = false;                                            // every face is gone
  std::vector<std::string> removed_faces{};                        // face ids gone
  std::optional<std::string> removed_person{};                     // every face of this person is gone
  std::optional<std::pair<std::string, std::string>> renamed_person{};  // from, to
  std::vector<GalleryFace> added_faces{};    // stored faces; the first one's model becomes the index's
  std::vector<GalleryFace> refiled_faces{};  // stored faces now under another person
  std::optional<ModelInfo> first_model{};    // the model of a gallery that had none (an unknown face)
  bool reload = false;                       // re-read every embedding and the model (reindex)
  bool negatives_changed = false;            // re-read the negative examples
  bool rows_removed = false;                 // let the store drop removed rows from its files

  bool changes_index() const {
    return cleared || !removed_faces.empty() || removed_person || renamed_person || !added_faces.empty() ||
           !refiled_faces.empty() || first_model;
  }
};

}  // namespace gallery

struct Gallery::Impl {
  ~Impl();

  GalleryOptions options;

  std::mutex db_mutex;  // guards store
  std::unique_ptr<gallery::Store> store;

  std::shared_mutex index_mutex;  // guards index, model and negatives (lock order: db_mutex first)
  EmbeddingIndex index;
  std::optional<ModelInfo> model;
  std::vector<NegativeExample> negatives;  // few: kept whole in memory for the decision rule
  // The index revision the snapshot file holds (0: none read or written yet): a close saves
  // only when the rows changed since.
  std::uint64_t snapshot_revision = 0;

  // The approximate index of a large SQLite gallery is kept in `<file>.faiss` (docs/search.md),
  // so a restart adopts it instead of rebuilding. A PostgreSQL gallery has no local file: each
  // node builds its own at the first large search.
  std::optional<std::string> approximate_snapshot_path;

  std::atomic<std::chrono::steady_clock::rep> quiet_until{0};  // see refresh_for_search

  const std::string& location() const { return store->location(); }

  void load_approximate_snapshot();
  void save_approximate_snapshot() noexcept;

  void apply(gallery::IndexSync&& sync);
  // Re-reads every embedding and the model. Caller holds db_mutex.
  void load_locked();
  // Takes in what others committed since the last look. Caller holds db_mutex.
  void refresh_locked();
  void load_negatives_locked();
  void refresh();
  void refresh_for_search();
  void best_effort_forget_locked();

  // The end of every write: commits `txn`, then brings the index, the model and the negative
  // examples in step with what the write did. Caller holds db_mutex.
  void commit(gallery::WriteScope& txn, gallery::WriteEffects effects = {});

  // Inserts inside an open transaction; fills `added` with the faces actually stored.
  std::vector<AddOutcome> insert_locked(const std::vector<GalleryFace>& batch, std::vector<GalleryFace>& added);
  std::optional<gallery::ImageFace> stored_face_like(const GalleryFace& in);
  // Moves every face of `from` to `to` inside the open transaction (rename, merge) and notes it
  // in `effects`; returns how many moved.
  std::size_t move_person_locked(const std::string& from, const std::string& to, gallery::WriteEffects& effects);

  void check_search_model(const ModelInfo& given) const;
};

}  // namespace siamface
