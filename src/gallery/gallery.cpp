// Gallery: the rules (validation, duplicates, the model check, merges) and the in-memory index,
// over a Store (gallery_store.hpp) that is either an SQLite file or a PostgreSQL database.
#include "siamface/gallery.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include "gallery/gallery_store.hpp"
#include "gallery/jsonl_codec.hpp"
#include "gallery/posix_files.hpp"
#include "gallery/validation.hpp"
#include "siamface/clustering.hpp"
#include "siamface/errors.hpp"

namespace siamface {

namespace fs = std::filesystem;
using gallery::IndexSync;
using gallery::Store;

std::string default_gallery_path() {
  if (const char* env = std::getenv("SIAMFACE_GALLERY"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return (fs::path(xdg) / "siamface" / "gallery.db").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".local" / "share" / "siamface" / "gallery.db").string();
}

namespace {

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

}  // namespace

struct Gallery::Impl {
  ~Impl() {
    if (store) store->stop_listening();  // a PostgreSQL listener calls refresh() until then
    save_approximate_snapshot();
  }

  GalleryOptions options;

  std::mutex db_mutex;  // guards store
  std::unique_ptr<Store> store;

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

  void load_approximate_snapshot() {
    if (!approximate_snapshot_path) return;
    std::unique_lock lock(index_mutex);
    if (index.load_approximate(*approximate_snapshot_path)) snapshot_revision = index.revision();
  }

  // Best effort, at close: a snapshot that cannot be written is rebuilt at the next start.
  void save_approximate_snapshot() noexcept {
    if (!approximate_snapshot_path || index.revision() == snapshot_revision) return;
    // Never build a large index just to save it (a one-off `enroll` into a big gallery).
    if (!index.approximate_active() && index.options().approximate_min_rows > 0 &&
        index.size() >= index.options().approximate_min_rows) {
      return;
    }
    try {
      index.save_approximate(*approximate_snapshot_path);
      snapshot_revision = index.revision();
    } catch (const std::exception&) {
    }
  }

  const std::string& location() const { return store->location(); }

  void apply(IndexSync&& sync) {
    if (sync.full) {
      EmbeddingIndex fresh(options.index);
      fresh.reserve(sync.rows.size());
      for (const auto& row : sync.rows) fresh.add(row.id, row.person, row.embedding);
      std::unique_lock lock(index_mutex);
      index = std::move(fresh);
      model = std::move(sync.model);
      return;
    }
    std::unique_lock lock(index_mutex);
    for (const auto& id : sync.removed) index.remove(id);
    for (const auto& row : sync.rows) {
      index.remove(row.id);  // a changed row (renamed, reindexed) replaces the old one
      index.add(row.id, row.person, row.embedding);
    }
    model = std::move(sync.model);
  }

  // Re-reads every embedding and the model. Caller holds db_mutex.
  void load_locked() {
    apply(store->load());
    load_negatives_locked();
  }

  // Takes in what others committed since the last look. Caller holds db_mutex.
  void refresh_locked() {
    if (auto sync = store->poll()) {
      apply(std::move(*sync));
      load_negatives_locked();
    }
  }

  void load_negatives_locked() {
    auto fresh = store->negatives(nullptr);
    std::unique_lock lock(index_mutex);
    negatives = std::move(fresh);
  }

  void refresh() {
    if (!store->may_have_changed()) return;
    std::lock_guard lock(db_mutex);
    refresh_locked();
  }

  // Before a search: take in others' changes; while the database server is unreachable
  // (PostgreSQL), answer from the index in memory, which catches up when it is back.
  // After a failure, searches wait a second before asking again, so an unreachable host's
  // connect timeout does not stall every search.
  void refresh_for_search() {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    if (now < quiet_until.load()) return;
    try {
      refresh();
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kGalleryUnavailable) throw;
      quiet_until = std::chrono::steady_clock::now().time_since_epoch().count() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::seconds(1)).count();
    }
  }
  std::atomic<std::chrono::steady_clock::rep> quiet_until{0};

  void best_effort_forget_locked() {
    try {
      store->forget_removed(false);
    } catch (const Error&) {
      // Another process holds the file; its next checkpoint will do it.
    }
  }

  // Inserts inside an open transaction; fills `added` with the faces actually stored.
  std::vector<AddOutcome> insert_locked(const std::vector<GalleryFace>& batch, std::vector<GalleryFace>& added) {
    std::optional<ModelInfo> current = store->read_model();
    // The first face fixes the model of a gallery that has none or holds no faces.
    if (!batch.empty() &&
        (!current || (!gallery::same_model(*current, batch.front().model) && store->count_faces() == 0))) {
      store->write_model(batch.front().model);
      current = batch.front().model;
    }
    std::vector<AddOutcome> outcomes;
    outcomes.reserve(batch.size());
    const std::int64_t now = gallery::now_unix_ms();
    for (const GalleryFace& in : batch) {
      if (current && !gallery::same_model(*current, in.model)) {
        gallery::throw_model_mismatch(location(), *current, in.model);
      }
      if (auto existing = stored_face_like(in)) {
        outcomes.push_back({AddStatus::kDuplicate, std::move(existing->id), std::move(existing->person)});
        continue;
      }
      // A given id (an import) that exists is the same face again; a generated one is retried.
      if (!in.id.empty()) {
        if (auto existing = store->face(in.id)) {
          outcomes.push_back({AddStatus::kDuplicate, in.id, std::move(existing->person)});
          continue;
        }
      }
      GalleryFace f = in;
      if (f.id.empty()) {
        do {
          f.id = gallery::new_face_id();
        } while (store->has_face_id(f.id));
      }
      if (f.created_unix_ms == 0) f.created_unix_ms = now;
      store->insert_face(f);
      outcomes.push_back({AddStatus::kAdded, f.id, f.person});
      added.push_back(std::move(f));
    }
    return outcomes;
  }

  // The stored face that `in` would repeat, inside the open transaction: a photo's face is
  // stored at most once, under one person. The same image with an overlapping box is the same
  // face under whatever name it is stored (the best overlap wins); otherwise a face of the same
  // image under the same person (one face per person and photo, UNIQUE(person, image_sha256)).
  std::optional<gallery::ImageFace> stored_face_like(const GalleryFace& in) {
    std::optional<gallery::ImageFace> same_face;
    std::optional<gallery::ImageFace> same_person;
    float best_iou = 0.0F;
    for (gallery::ImageFace& stored : store->faces_of_image(in.image_sha256)) {
      const float iou = intersection_over_union(stored.box, in.face.box);
      if (iou >= kSameFaceMinIou && iou > best_iou) {
        best_iou = iou;
        same_face = stored;
      }
      if (!same_person && stored.person == in.person) same_person = std::move(stored);
    }
    return same_face ? same_face : same_person;
  }

  void index_add(const std::vector<GalleryFace>& added) {
    std::unique_lock lock(index_mutex);
    if (!added.empty()) model = added.front().model;
    for (const GalleryFace& f : added) {
      index.remove(f.id);  // the change feed may have brought it in already
      index.add(f.id, f.person, f.embedding);
    }
  }

  void check_search_model(const ModelInfo& given) const {
    if (model && index.size() > 0 && !gallery::same_model(*model, given)) {
      gallery::throw_model_mismatch(location(), *model, given);
    }
  }
};

Gallery::Gallery(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gallery::~Gallery() = default;
Gallery::Gallery(Gallery&&) noexcept = default;
Gallery& Gallery::operator=(Gallery&&) noexcept = default;

Gallery Gallery::open(const std::string& path, const GalleryOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->index = EmbeddingIndex(options.index);
  impl->store = is_postgres_gallery(path) ? gallery::open_postgres_store(path, options)
                                           : gallery::open_sqlite_store(path, options);
  {
    std::lock_guard lock(impl->db_mutex);
    impl->load_locked();
  }
  if (!is_postgres_gallery(path) && options.index.approximate_min_rows > 0) {
    impl->approximate_snapshot_path = impl->location() + ".faiss";
    impl->load_approximate_snapshot();
  }
  // Another node's commit: bring the index in step now, not at the next search.
  impl->store->on_change([im = impl.get()] {
    try {
      im->refresh();
    } catch (const Error&) {
      // The server is unreachable; the next call reports it, and the listener retries.
    }
  });
  return Gallery(std::move(impl));
}

const std::string& Gallery::path() const { return impl_->location(); }

std::vector<AddOutcome> Gallery::add_faces(const std::vector<GalleryFace>& batch) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    gallery::validate_face(batch[i], "face " + std::to_string(i) + " of the batch: ");
  }
  if (batch.empty()) return {};
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  // Every row of a gallery has one size (its recognizer's); checked before anything is written.
  std::size_t dims = im.index.dimensions();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (dims == 0) dims = batch[i].embedding.size();
    if (batch[i].embedding.size() != dims || dims > gallery::kMaxEmbeddingFloats) {
      throw Error(ErrorCode::kInvalidArgument, "face " + std::to_string(i) + " of the batch: embedding has " +
                                                   std::to_string(batch[i].embedding.size()) +
                                                   " values, the gallery holds " + std::to_string(dims) + " per face");
    }
  }
  std::vector<GalleryFace> added;
  std::vector<AddOutcome> outcomes;
  {
    WriteScope txn(*im.store);
    outcomes = im.insert_locked(batch, added);
    txn.commit();
  }
  im.index_add(added);
  return outcomes;
}

AddOutcome Gallery::add_face(const GalleryFace& face) { return add_faces({face}).front(); }

bool Gallery::has_image(const std::string& image_sha256) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->has_image(image_sha256, nullptr);
}

bool Gallery::has_image(const std::string& image_sha256, const std::string& person) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->has_image(image_sha256, &person);
}

std::optional<GalleryFace> Gallery::face(const std::string& face_id) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->face(face_id);
}

std::vector<GalleryFace> Gallery::faces_of(const std::string& person) const {
  std::lock_guard lock(impl_->db_mutex);
  std::vector<GalleryFace> out;
  impl_->store->for_each_face(&person, [&](GalleryFace&& f) { out.push_back(std::move(f)); });
  return out;
}

std::vector<PersonSummary> Gallery::people() const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->people();
}

std::int64_t Gallery::face_count() const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->count_faces();
}

std::size_t Gallery::remove_person(const std::string& person) {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  std::size_t removed = 0;
  {
    WriteScope txn(*im.store);
    removed = im.store->delete_person(person);
    if (removed == 0) {
      throw Error(ErrorCode::kNotFound, "no person named '" + person + "' in gallery " + im.location());
    }
    im.store->delete_negatives(&person);  // "not <person>" means nothing once they are gone
    txn.commit();
  }
  {
    std::unique_lock ilock(im.index_mutex);
    im.index.remove_person(person);
  }
  im.load_negatives_locked();
  im.best_effort_forget_locked();
  return removed;
}

void Gallery::remove_face(const std::string& face_id) {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  {
    WriteScope txn(*im.store);
    if (!im.store->delete_face(face_id)) {
      throw Error(ErrorCode::kNotFound, "no face with id " + face_id + " in gallery " + im.location());
    }
    txn.commit();
  }
  {
    std::unique_lock ilock(im.index_mutex);
    im.index.remove(face_id);
  }
  im.best_effort_forget_locked();
}

std::size_t Gallery::rename_person(const std::string& from, const std::string& to) {
  gallery::validate_person(to, "rename: new ");
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  std::vector<std::string> dropped;
  std::size_t moved = 0;
  {
    WriteScope txn(*im.store);
    const std::int64_t count = im.store->count_faces_of(from);
    if (count == 0) {
      throw Error(ErrorCode::kNotFound, "no person named '" + from + "' in gallery " + im.location());
    }
    if (from == to) return static_cast<std::size_t>(count);
    // A photo `to` already has would violate UNIQUE(person, image_sha256): drop it.
    dropped = im.store->faces_sharing_images(from, to);
    for (const auto& id : dropped) im.store->delete_face(id);
    moved = im.store->move_person(from, to);
    txn.commit();
  }
  {
    std::unique_lock ilock(im.index_mutex);
    for (const auto& id : dropped) im.index.remove(id);
    im.index.rename_person(from, to);
  }
  if (!dropped.empty()) im.best_effort_forget_locked();
  return moved;
}

std::size_t Gallery::remove_all() {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  std::size_t removed = 0;
  {
    WriteScope txn(*im.store);
    removed = im.store->delete_all_faces();
    im.store->delete_negatives(nullptr);
    txn.commit();
  }
  {
    std::unique_lock ilock(im.index_mutex);
    im.index.clear();
  }
  im.load_negatives_locked();
  im.best_effort_forget_locked();
  return removed;
}

std::size_t Gallery::export_jsonl(const std::string& file) const {
  auto& im = *impl_;
  gallery::PrivateOutputFile out(file, "export file");
  std::size_t count = 0;
  {
    std::lock_guard lock(im.db_mutex);
    ReadScope read(*im.store);
    out.write(gallery::header_line({im.store->read_model(), im.store->settings()}) + "\n");
    im.store->for_each_face(
        nullptr,
        [&](GalleryFace&& f) {
          out.write(gallery::face_line(f) + "\n");
          ++count;
        },
        /*with_thumbnails=*/true);
    for (const NegativeExample& n : im.store->negatives(nullptr)) out.write(gallery::negative_line(n) + "\n");
  }
  out.finish();
  return count;
}

ImportResult Gallery::import_jsonl(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw Error(ErrorCode::kIo, "cannot read import file " + file);
  return import_jsonl(in, file);
}

ImportResult Gallery::import_jsonl(std::istream& in, const std::string& file) {
  const gallery::ParsedExport parsed = gallery::parse_export(in, file);
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  std::vector<GalleryFace> added;
  ImportResult result;
  {
    WriteScope txn(*im.store);
    for (const auto& [key, value] : parsed.header.settings) im.store->put_setting(key, value);
    const std::vector<AddOutcome> outcomes = im.insert_locked(parsed.faces, added);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      if (outcomes[i].status == AddStatus::kAdded) {
        ++result.added;
        continue;
      }
      ++result.duplicates;
      const GalleryFace& f = parsed.faces[i];
      if (outcomes[i].person != f.person) {
        result.other_person.push_back({f.id, f.person, f.source_path, outcomes[i].person});
      }
    }
    if (!parsed.negatives.empty()) {
      std::set<std::string> present;
      for (const NegativeExample& n : im.store->negatives(nullptr)) present.insert(n.id);
      for (const NegativeExample& n : parsed.negatives) {
        if (!present.insert(n.id).second) continue;
        if (im.store->count_faces_of(n.person) == 0) {
          throw Error(ErrorCode::kInvalidArgument, file + ": negative example " + n.id + " is for '" + n.person +
                                                       "', who has no face in the gallery or the file");
        }
        if (const auto current = im.store->read_model(); parsed.header.model && current &&
                                                          !gallery::same_model(*current, *parsed.header.model)) {
          gallery::throw_model_mismatch(im.location(), *current, *parsed.header.model);
        }
        if (im.index.dimensions() != 0 && n.embedding.size() != im.index.dimensions()) {
          throw Error(ErrorCode::kInvalidArgument, file + ": negative example " + n.id + " has " +
                                                       std::to_string(n.embedding.size()) + " values, the gallery holds " +
                                                       std::to_string(im.index.dimensions()) + " per face");
        }
        im.store->insert_negative(n);
        ++result.negatives;
      }
    }
    txn.commit();
  }
  im.index_add(added);
  if (result.negatives > 0) im.load_negatives_locked();
  return result;
}

GalleryInfo Gallery::info() const {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  GalleryInfo info;
  info.path = im.location();
  info.schema_version = im.store->schema_version();
  info.model = im.store->read_model();
  info.face_count = im.store->count_faces();
  info.person_count = im.store->count_people();
  if (const auto saved = im.store->setting(kThresholdSetting)) {
    try {
      info.threshold = parse_distance_threshold(*saved);
    } catch (const Error&) {
      // Only an old file written before the check could hold one; resolve_threshold says so.
    }
  }
  info.file_bytes = im.store->stored_bytes();
  return info;
}

std::optional<ModelInfo> Gallery::model() const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->read_model();
}

std::optional<std::string> Gallery::setting(const std::string& key) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->setting(key);
}

void Gallery::set_setting(const std::string& key, const std::string& value) {
  gallery::validate_setting(key, value);
  std::lock_guard lock(impl_->db_mutex);
  WriteScope txn(*impl_->store);
  impl_->store->put_setting(key, value);
  txn.commit();
}

bool Gallery::erase_setting(const std::string& key) {
  std::lock_guard lock(impl_->db_mutex);
  WriteScope txn(*impl_->store);
  const bool erased = impl_->store->delete_setting(key);
  txn.commit();
  return erased;
}

std::vector<FaceSource> Gallery::face_sources() const {
  std::lock_guard lock(impl_->db_mutex);
  std::vector<FaceSource> out;
  impl_->store->for_each_face(nullptr, [&](GalleryFace&& f) {
    out.push_back({std::move(f.id), std::move(f.person), std::move(f.source_path), std::move(f.image_sha256), f.face});
  });
  return out;
}

void Gallery::reindex(const std::vector<ReindexUpdate>& updates, const ModelInfo& model, bool remove_unlisted) {
  gallery::validate_model(model, "reindex: ");
  std::unordered_map<std::string, const ReindexUpdate*> by_id;
  for (const ReindexUpdate& u : updates) {
    for (float v : u.embedding) gallery::require_finite(v, "reindex of face " + u.face_id + ": ", "embedding");
    if (!by_id.emplace(u.face_id, &u).second) {
      throw Error(ErrorCode::kInvalidArgument, "reindex: face " + u.face_id + " listed twice");
    }
  }
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  {
    WriteScope txn(*im.store);
    const std::vector<std::string> ids = im.store->face_ids();
    const std::unordered_set<std::string> present(ids.begin(), ids.end());
    for (const auto& [id, u] : by_id) {
      if (!present.count(id)) {
        throw Error(ErrorCode::kNotFound, "reindex: no face with id " + id + " in gallery " + im.location());
      }
    }
    for (const auto& id : ids) {
      if (by_id.count(id)) continue;
      if (!remove_unlisted) {
        throw Error(ErrorCode::kInvalidArgument, "reindex: face " + id + " has no new embedding; nothing was changed");
      }
      im.store->delete_face(id);
    }
    for (const ReindexUpdate& u : updates) {
      im.store->update_embedding(u.face_id, u.embedding, model);
      if (u.face) im.store->update_geometry(u.face_id, *u.face);
    }
    im.store->write_model(model);
    txn.commit();
  }
  im.load_locked();
  im.best_effort_forget_locked();
}

std::vector<IdentityMatch> Gallery::search(const Embedding& query, const ModelInfo& model, std::size_t k,
                                           IdentityDistance mode) const {
  impl_->refresh_for_search();
  std::shared_lock lock(impl_->index_mutex);
  impl_->check_search_model(model);
  return impl_->index.search(query, k, mode);
}

std::vector<std::vector<IdentityMatch>> Gallery::search_batch(std::span<const Embedding> queries,
                                                              const ModelInfo& model, std::size_t k,
                                                              IdentityDistance mode) const {
  impl_->refresh_for_search();
  std::shared_lock lock(impl_->index_mutex);
  impl_->check_search_model(model);
  return impl_->index.search_batch(queries, k, mode);
}

Embedding Gallery::matched_embedding(const IdentityMatch& match) const {
  std::shared_lock lock(impl_->index_mutex);
  return impl_->index.matched_embedding(match);
}

namespace {

std::int64_t parse_setting_int(const std::optional<std::string>& text, std::int64_t fallback, const char* key) {
  if (!text) return fallback;
  try {
    std::size_t used = 0;
    const long long value = std::stoll(*text, &used);
    if (used == text->size() && value > 0) return value;
  } catch (const std::exception&) {
  }
  throw Error(ErrorCode::kGallery, std::string("gallery setting '") + key + "' is not a positive whole number: '" +
                                       *text + "'");
}

void check_page(std::int64_t offset, std::int64_t limit) {
  if (offset < 0) throw Error(ErrorCode::kInvalidArgument, "offset must be 0 or more");
  if (limit < 1) throw Error(ErrorCode::kInvalidArgument, "limit must be 1 or more");
}

constexpr std::int64_t kMsPerDay = 24LL * 60 * 60 * 1000;

}  // namespace

UnknownPolicy Gallery::unknown_policy() const {
  std::lock_guard lock(impl_->db_mutex);
  UnknownPolicy policy;
  const auto keep = impl_->store->setting(kKeepUnknownSetting);
  policy.keep = keep && *keep == "true";
  policy.max_faces =
      parse_setting_int(impl_->store->setting(kUnknownMaxFacesSetting), kDefaultUnknownMaxFaces, kUnknownMaxFacesSetting);
  policy.max_age_days = parse_setting_int(impl_->store->setting(kUnknownMaxAgeDaysSetting), kDefaultUnknownMaxAgeDays,
                                          kUnknownMaxAgeDaysSetting);
  return policy;
}

UnknownAddStatus Gallery::add_unknown(const UnknownFace& input) {
  GalleryFace checked = input.face;
  checked.person = "unknown face";  // the person rule does not apply; everything else does
  gallery::validate_face(checked, "unknown face: ");
  if (input.source_key.empty()) throw Error(ErrorCode::kInvalidArgument, "unknown face: source_key is empty");
  const UnknownPolicy policy = unknown_policy();
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  {
    WriteScope txn(*im.store);
    const std::optional<ModelInfo> current = im.store->read_model();
    if (!current || (!gallery::same_model(*current, input.face.model) && im.store->count_faces() == 0 &&
                     im.store->count_unknown() == 0)) {
      im.store->write_model(input.face.model);
    } else if (!gallery::same_model(*current, input.face.model)) {
      gallery::throw_model_mismatch(im.location(), *current, input.face.model);
    }
    for (const Embedding& kept : im.store->unknown_embeddings_with_key(input.source_key)) {
      if (kept.size() == input.face.embedding.size() &&
          euclidean_distance(kept, input.face.embedding) < kUnknownDedupDistance) {
        return UnknownAddStatus::kDuplicate;  // the scope rolls back: nothing was written
      }
    }
    UnknownFace u = input;
    u.face.person.clear();
    u.cluster.reset();
    if (u.face.id.empty()) u.face.id = gallery::new_face_id();
    if (u.face.created_unix_ms == 0) u.face.created_unix_ms = gallery::now_unix_ms();
    im.store->insert_unknown(u);
    im.store->delete_unknown_before(gallery::now_unix_ms() - policy.max_age_days * kMsPerDay);
    im.store->delete_unknown_beyond(policy.max_faces);
    txn.commit();
  }
  {
    std::unique_lock ilock(im.index_mutex);
    if (!im.model) im.model = input.face.model;
  }
  return UnknownAddStatus::kAdded;
}

UnknownPage Gallery::list_unknown(std::int64_t offset, std::int64_t limit) const {
  check_page(offset, limit);
  std::lock_guard lock(impl_->db_mutex);
  ReadScope read(*impl_->store);
  UnknownPage page;
  page.total = impl_->store->count_unknown();
  page.items = impl_->store->unknown_page(offset, limit);
  return page;
}

std::optional<UnknownFace> Gallery::unknown_face(const std::string& id) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->unknown_face(id);
}

std::size_t Gallery::purge_unknown(bool all) {
  const UnknownPolicy policy = unknown_policy();
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  std::size_t removed = 0;
  {
    WriteScope txn(*im.store);
    if (all) {
      removed = im.store->delete_all_unknown();
    } else {
      removed = im.store->delete_unknown_before(gallery::now_unix_ms() - policy.max_age_days * kMsPerDay);
      removed += im.store->delete_unknown_beyond(policy.max_faces);
    }
    txn.commit();
  }
  if (removed > 0) im.best_effort_forget_locked();
  return removed;
}

ClusterResult Gallery::cluster_unknown(const ClusterOptions& options) {
  if (!(options.threshold > 0) || !std::isfinite(options.threshold)) {
    throw Error(ErrorCode::kInvalidArgument, "cluster threshold must be a positive number");
  }
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  ClusterResult result;
  WriteScope txn(*im.store);
  const std::vector<gallery::UnknownRow> rows = im.store->unknown_rows();
  std::vector<Embedding> embeddings;
  std::vector<std::optional<std::int64_t>> previous;
  embeddings.reserve(rows.size());
  for (const auto& row : rows) {
    embeddings.push_back(row.embedding);
    previous.push_back(row.cluster);
  }
  const std::vector<std::size_t> labels = cluster_average_linkage(embeddings, options.threshold);
  const std::size_t label_count = labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end()) + 1;
  // Fresh ids come from the store's counter, so a dismissed cluster's id is never reused.
  std::int64_t fresh_count = 0;  // a dry run counts the clusters that need a new id
  carry_cluster_ids(labels, previous, fresh_count);
  std::int64_t next_id = fresh_count > 0 ? im.store->take_cluster_ids(fresh_count) : 0;
  const std::vector<std::int64_t> ids = carry_cluster_ids(labels, previous, next_id);
  const std::vector<Embedding> centroids = cluster_centroids(embeddings, labels);
  std::vector<gallery::ClusterRow> clusters(label_count);
  for (std::size_t label = 0; label < label_count; ++label) clusters[label] = {ids[label], 0, centroids[label]};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ++clusters[labels[i]].size;
    if (previous[i] != ids[labels[i]]) im.store->set_unknown_cluster(rows[i].id, ids[labels[i]]);
  }
  im.store->replace_clusters(clusters);
  txn.commit();
  result.clusters = label_count;
  result.faces = rows.size();
  result.kept_ids = label_count - static_cast<std::size_t>(fresh_count);
  return result;
}

ClusterPage Gallery::clusters(std::int64_t offset, std::int64_t limit, std::size_t max_faces,
                              float close_distance) const {
  check_page(offset, limit);
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  ReadScope read(*im.store);
  ClusterPage page;
  page.total = im.store->count_clusters();
  const std::vector<gallery::ClusterRow> all = im.store->all_clusters();
  for (const gallery::ClusterRow& row : im.store->cluster_page(offset, limit)) {
    UnknownCluster cluster;
    cluster.id = row.id;
    cluster.size = row.size;
    cluster.faces = im.store->unknown_of_cluster(row.id, static_cast<std::int64_t>(max_faces));
    for (UnknownFace& f : cluster.faces) f.face.embedding.clear();
    for (const gallery::ClusterRow& other : all) {
      if (other.id == row.id || other.centroid.size() != row.centroid.size()) continue;
      const float distance = euclidean_distance(row.centroid, other.centroid);
      if (distance < close_distance) cluster.close.push_back({other.id, distance});
    }
    std::sort(cluster.close.begin(), cluster.close.end(),
              [](const ClosePair& a, const ClosePair& b) { return a.distance < b.distance; });
    page.items.push_back(std::move(cluster));
  }
  return page;
}

std::vector<std::string> Gallery::promote_cluster(std::int64_t cluster, const std::string& person,
                                                  const std::vector<std::string>& face_ids) {
  gallery::validate_person(person, "promote: ");
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  std::vector<GalleryFace> added;
  std::vector<std::string> ids;
  {
    WriteScope txn(*im.store);
    std::vector<UnknownFace> members = im.store->unknown_of_cluster(cluster, std::numeric_limits<std::int64_t>::max());
    if (members.empty()) {
      throw Error(ErrorCode::kNotFound, "no unknown-face cluster " + std::to_string(cluster) + " in gallery " +
                                            im.location() + " (run `siamface cluster` first)");
    }
    std::vector<GalleryFace> batch;
    std::unordered_set<std::string> wanted(face_ids.begin(), face_ids.end());
    for (UnknownFace& u : members) {
      if (!face_ids.empty() && !wanted.erase(u.face.id)) continue;  // not in the chosen subset
      GalleryFace f = std::move(u.face);
      f.thumbnail_jpeg = im.store->unknown_thumbnail(f.id).value_or(std::vector<std::uint8_t>{});
      im.store->delete_unknown(f.id);
      f.person = person;
      f.id.clear();  // a new face id: the unknown one is gone
      batch.push_back(std::move(f));
    }
    if (!wanted.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "promote: face " + *wanted.begin() + " is not in cluster " +
                                                   std::to_string(cluster));
    }
    for (const AddOutcome& o : im.insert_locked(batch, added)) ids.push_back(o.face_id);
    if (im.store->unknown_of_cluster(cluster, 1).empty()) im.store->delete_cluster(cluster);
    txn.commit();
  }
  im.index_add(added);
  im.best_effort_forget_locked();
  return ids;
}

std::size_t Gallery::dismiss_cluster(std::int64_t cluster) {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  std::size_t removed = 0;
  {
    WriteScope txn(*im.store);
    removed = im.store->unknown_of_cluster(cluster, std::numeric_limits<std::int64_t>::max()).size();
    if (removed == 0) {
      throw Error(ErrorCode::kNotFound, "no unknown-face cluster " + std::to_string(cluster) + " in gallery " + im.location());
    }
    im.store->delete_cluster(cluster);
    txn.commit();
  }
  im.best_effort_forget_locked();
  return removed;
}

std::size_t Gallery::merge_people(const std::string& from, const std::string& into) {
  auto& im = *impl_;
  std::size_t moved = 0;
  {
    std::lock_guard lock(im.db_mutex);
    im.refresh_locked();
    for (const std::string* name : {&from, &into}) {
      if (im.store->count_faces_of(*name) == 0) {
        throw Error(ErrorCode::kNotFound, "no person named '" + *name + "' in gallery " + im.location());
      }
    }
    if (from == into) throw Error(ErrorCode::kInvalidArgument, "merge: '" + from + "' cannot be merged into itself");
    std::vector<std::string> dropped;
    {
      WriteScope txn(*im.store);
      dropped = im.store->faces_sharing_images(from, into);
      for (const auto& id : dropped) im.store->delete_face(id);
      moved = im.store->move_person(from, into);
      im.store->move_negatives(from, into);
      txn.commit();
    }
    {
      std::unique_lock ilock(im.index_mutex);
      for (const auto& id : dropped) im.index.remove(id);
      im.index.rename_person(from, into);
    }
    im.load_negatives_locked();
  }
  return moved;
}

std::size_t Gallery::split_faces(const std::string& person, const std::vector<std::string>& face_ids,
                                 const std::string& to) {
  gallery::validate_person(to, "split: ");
  if (face_ids.empty()) throw Error(ErrorCode::kInvalidArgument, "split: no faces listed");
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  if (im.store->count_faces_of(person) == 0) {
    throw Error(ErrorCode::kNotFound, "no person named '" + person + "' in gallery " + im.location());
  }
  std::vector<GalleryFace> moved;
  std::vector<std::string> dropped;
  {
    WriteScope txn(*im.store);
    for (const std::string& id : face_ids) {
      std::optional<GalleryFace> f = im.store->face(id);
      if (!f || f->person != person) {
        throw Error(ErrorCode::kInvalidArgument, "split: face " + id + " is not one of '" + person + "''s faces");
      }
      if (person == to) continue;
      if (im.store->face_with_image(to, f->image_sha256)) {
        im.store->delete_face(id);  // `to` has this photo already
        dropped.push_back(id);
        continue;
      }
      im.store->move_face(id, to);
      f->person = to;
      moved.push_back(std::move(*f));
    }
    txn.commit();
  }
  {
    std::unique_lock ilock(im.index_mutex);
    for (const auto& id : dropped) im.index.remove(id);
    for (const GalleryFace& f : moved) {
      im.index.remove(f.id);
      im.index.add(f.id, f.person, f.embedding);
    }
  }
  return moved.size();
}

std::string Gallery::mark_not(const std::string& face_id) {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  std::string person;
  {
    WriteScope txn(*im.store);
    const std::optional<GalleryFace> f = im.store->face(face_id);
    if (!f) throw Error(ErrorCode::kNotFound, "no face with id " + face_id + " in gallery " + im.location());
    person = f->person;
    NegativeExample negative{gallery::new_face_id(), f->person, f->source_path, f->embedding, gallery::now_unix_ms()};
    im.store->delete_face(face_id);
    im.store->insert_negative(negative);
    txn.commit();
  }
  {
    std::unique_lock ilock(im.index_mutex);
    im.index.remove(face_id);
  }
  im.load_negatives_locked();
  im.best_effort_forget_locked();
  return person;
}

std::string Gallery::add_negative(const std::string& person, const Embedding& embedding, const ModelInfo& model,
                                  const std::string& source_path) {
  for (float v : embedding) gallery::require_finite(v, "negative example: ", "embedding");
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  NegativeExample negative{gallery::new_face_id(), person, source_path, embedding, gallery::now_unix_ms()};
  {
    WriteScope txn(*im.store);
    if (im.store->count_faces_of(person) == 0) {
      throw Error(ErrorCode::kNotFound, "no person named '" + person + "' in gallery " + im.location());
    }
    if (const auto current = im.store->read_model(); current && !gallery::same_model(*current, model)) {
      gallery::throw_model_mismatch(im.location(), *current, model);
    }
    if (im.index.dimensions() != 0 && embedding.size() != im.index.dimensions()) {
      throw Error(ErrorCode::kInvalidArgument, "negative example: embedding has " + std::to_string(embedding.size()) +
                                                   " values, the gallery holds " +
                                                   std::to_string(im.index.dimensions()) + " per face");
    }
    im.store->insert_negative(negative);
    txn.commit();
  }
  im.load_negatives_locked();
  return negative.id;
}

std::vector<NegativeExample> Gallery::negatives(const std::string* person) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->negatives(person);
}

std::vector<std::pair<std::string, float>> Gallery::nearest_negatives(const Embedding& query) const {
  std::shared_lock lock(impl_->index_mutex);
  std::map<std::string, float> nearest;
  for (const NegativeExample& n : impl_->negatives) {
    if (n.embedding.size() != query.size()) continue;
    const float d = euclidean_distance(n.embedding, query);
    auto [it, inserted] = nearest.emplace(n.person, d);
    if (!inserted) it->second = std::min(it->second, d);
  }
  return {nearest.begin(), nearest.end()};
}

std::optional<std::vector<std::uint8_t>> Gallery::face_thumbnail(const std::string& face_id) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->face_thumbnail(face_id);
}

std::optional<std::vector<std::uint8_t>> Gallery::unknown_thumbnail(const std::string& unknown_id) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->unknown_thumbnail(unknown_id);
}

std::pair<std::int64_t, std::vector<Gallery::PersonPageItem>> Gallery::people_page(std::int64_t offset,
                                                                                   std::int64_t limit) const {
  check_page(offset, limit);
  std::lock_guard lock(impl_->db_mutex);
  ReadScope read(*impl_->store);
  const std::vector<PersonSummary> all = impl_->store->people();
  std::vector<PersonPageItem> items;
  for (std::size_t i = static_cast<std::size_t>(offset); i < all.size() && items.size() < static_cast<std::size_t>(limit); ++i) {
    items.push_back({all[i].person, all[i].face_count, impl_->store->face_with_thumbnail(all[i].person)});
  }
  return {static_cast<std::int64_t>(all.size()), std::move(items)};
}

void Gallery::reload() {
  std::lock_guard lock(impl_->db_mutex);
  impl_->load_locked();
}

void Gallery::checkpoint() {
  std::lock_guard lock(impl_->db_mutex);
  impl_->store->forget_removed(true);
}

}  // namespace siamface
