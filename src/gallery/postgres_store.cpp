// The shared backend: a PostgreSQL database (libpqxx), used by many nodes at once.
//  - Versioned migrations (table siamface_migrations), each in its own transaction, under an
//    advisory lock so two nodes starting together do not race.
//  - Every write is one transaction that first locks the feed_state row: writers are serialised
//    across nodes, so the change sequence number (feed_state.seq) grows in commit order.
//  - The change feed: each write transaction takes the next seq and logs, in `changes`, the face
//    ids it inserted/changed ('u'), removed ('d'), or 'r' (reload everything) or 's' (a
//    setting); only face ids, never names or embeddings, so an erased person leaves no trace
//    there. NOTIFY siamface_gallery with the seq on commit. Other nodes LISTEN on a second
//    connection and catch up from their last seq (poll); a node away for longer than the kept
//    log (kKeptChanges transactions) reloads everything.
// Thread safety: none (Gallery serialises calls), except the listener thread, which only sets
// an atomic flag and calls the change callback.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include <pqxx/pqxx>

#include "gallery/gallery_store.hpp"
#include "gallery/row_codec.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace gallery {

namespace {

constexpr const char* kChannel = "siamface_gallery";
constexpr std::int64_t kKeptChanges = 10000;  // write transactions a reconnecting node can catch up on
constexpr std::int64_t kAdvisoryLockKey = 0x53464731;  // "SFG1": migrations

// Migration N (1-based) brings the schema from version N-1 to N. Never edit a released one.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE faces (
  row_order bigserial PRIMARY KEY,
  id text NOT NULL UNIQUE CHECK (length(id) = 36),
  person text NOT NULL,
  source_path text NOT NULL,
  image_sha256 text NOT NULL,
  box_left double precision NOT NULL, box_top double precision NOT NULL,
  box_width double precision NOT NULL, box_height double precision NOT NULL,
  score double precision NOT NULL,
  landmarks bytea NOT NULL CHECK (length(landmarks) = 544),
  face_size_px double precision NOT NULL, brightness double precision NOT NULL,
  contrast double precision NOT NULL, sharpness double precision NOT NULL,
  noise double precision NOT NULL, yaw double precision NOT NULL, grayscale boolean NOT NULL,
  embedding bytea NOT NULL CHECK (length(embedding) % 4 = 0 AND length(embedding) BETWEEN 4 AND 16384),
  model_name text NOT NULL, model_version text NOT NULL, model_weights_sha256 text NOT NULL,
  created_unix_ms bigint NOT NULL,
  UNIQUE (person, image_sha256)
);
CREATE INDEX faces_by_image ON faces (image_sha256);
CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE model (
  id integer PRIMARY KEY CHECK (id = 1),
  name text NOT NULL, version text NOT NULL, weights_sha256 text NOT NULL
);
CREATE TABLE feed_state (
  id integer PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL,             -- the last committed write transaction
  pruned_through bigint NOT NULL   -- changes up to here are no longer kept
);
INSERT INTO feed_state VALUES (1, 0, 0);
CREATE TABLE changes (
  seq bigint NOT NULL,
  op "char" NOT NULL,  -- u: face inserted or changed, d: face removed, r: reload all, s: setting
  face_id text
);
CREATE INDEX changes_by_seq ON changes (seq);
)sql",
    // 2 (issue 20): face thumbnails, unknown faces, clusters, negative examples.
    R"sql(
ALTER TABLE faces ADD COLUMN thumbnail bytea;
CREATE TABLE unknown_faces (
  row_order bigserial PRIMARY KEY,
  id text NOT NULL UNIQUE CHECK (length(id) = 36),
  person text NOT NULL DEFAULT '',
  source_path text NOT NULL,
  image_sha256 text NOT NULL,
  box_left double precision NOT NULL, box_top double precision NOT NULL,
  box_width double precision NOT NULL, box_height double precision NOT NULL,
  score double precision NOT NULL,
  landmarks bytea NOT NULL CHECK (length(landmarks) = 544),
  face_size_px double precision NOT NULL, brightness double precision NOT NULL,
  contrast double precision NOT NULL, sharpness double precision NOT NULL,
  noise double precision NOT NULL, yaw double precision NOT NULL, grayscale boolean NOT NULL,
  embedding bytea NOT NULL CHECK (length(embedding) % 4 = 0 AND length(embedding) BETWEEN 4 AND 16384),
  model_name text NOT NULL, model_version text NOT NULL, model_weights_sha256 text NOT NULL,
  created_unix_ms bigint NOT NULL,
  source_key text NOT NULL,
  quality_score double precision NOT NULL,
  cluster_id bigint,
  thumbnail bytea
);
CREATE INDEX unknown_by_key ON unknown_faces (source_key);
CREATE INDEX unknown_by_cluster ON unknown_faces (cluster_id);
CREATE INDEX unknown_by_time ON unknown_faces (created_unix_ms);
CREATE TABLE clusters (id bigint PRIMARY KEY, centroid bytea NOT NULL);
CREATE TABLE negatives (
  row_order bigserial PRIMARY KEY,
  id text NOT NULL UNIQUE,
  person text NOT NULL,
  source_path text NOT NULL,
  embedding bytea NOT NULL CHECK (length(embedding) % 4 = 0 AND length(embedding) BETWEEN 4 AND 16384),
  created_unix_ms bigint NOT NULL
);
CREATE INDEX negatives_by_person ON negatives (person);
CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr const char* kFaceColumns =
    "id, person, source_path, image_sha256, box_left, box_top, box_width, box_height, score, "
    "landmarks, face_size_px, brightness, contrast, sharpness, noise, yaw, grayscale, embedding, "
    "model_name, model_version, model_weights_sha256, created_unix_ms";

// The URL for messages: the password (user:password@ or password=...) replaced by ***.
std::string without_password(const std::string& url) {
  static const std::regex user_password(R"(^(postgres(?:ql)?://[^:/@?]*:)[^@/?]*@)");
  static const std::regex password_param(R"(([?&]password=)[^&]*)");
  return std::regex_replace(std::regex_replace(url, user_password, "$1***@"), password_param, "$1***");
}

std::span<const std::uint8_t> bytes_of(const pqxx::binarystring& b) { return {b.data(), b.size()}; }

pqxx::binarystring binary(std::span<const std::uint8_t> bytes) { return pqxx::binarystring(bytes.data(), bytes.size()); }

class PostgresStore final : public Store {
 public:
  PostgresStore(const std::string& url, const GalleryOptions& options)
      : url_(url), location_(without_password(url)), options_(options) {
    guard("open", [&] {
      connect();
      migrate();
    });
    if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
      throw Error(ErrorCode::kInternal, std::string("pipe2 failed: ") + std::strerror(errno));
    }
    listener_ = std::thread([this] { listen(); });
  }

  ~PostgresStore() override {
    stop_listening();
    rollback();
  }

  void stop_listening() noexcept override {
    {
      std::lock_guard lock(stop_mutex_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    if (stop_pipe_[1] >= 0) {
      const char byte = 0;
      [[maybe_unused]] const auto ignored = ::write(stop_pipe_[1], &byte, 1);  // wakes the poll() below
    }
    if (listener_.joinable()) listener_.join();
    for (int& fd : stop_pipe_) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }

  const std::string& location() const override { return location_; }

  void on_change(std::function<void()> callback) override {
    std::lock_guard lock(callback_mutex_);
    callback_ = std::move(callback);
  }

  bool may_have_changed() override { return !listening_.load() || pending_.exchange(false); }

  IndexSync load() override {
    return guard("load", [&] {
      pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> snapshot(conn());
      IndexSync sync = load_all(snapshot);
      snapshot.commit();
      return sync;
    });
  }

  std::optional<IndexSync> poll() override {
    return guard("poll", [&]() -> std::optional<IndexSync> {
      pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> snapshot(conn());
      const pqxx::row state = snapshot.exec1("SELECT seq, pruned_through FROM feed_state WHERE id = 1");
      const auto seq = state[0].as<std::int64_t>();
      if (seq == seen_seq_) return std::nullopt;
      if (seen_seq_ < state[1].as<std::int64_t>() || seq < seen_seq_) return load_all(snapshot);
      // Last operation per face id wins; 'r' anywhere means reload.
      std::unordered_map<std::string, char> last;
      for (const auto& row : snapshot.exec_params("SELECT op, face_id FROM changes WHERE seq > $1 ORDER BY seq",
                                                  seen_seq_)) {
        const char op = row[0].as<std::string>().front();
        if (op == 'r') return load_all(snapshot);
        if (op == 'u' || op == 'd') last[row[1].as<std::string>()] = op;
      }
      IndexSync sync;
      std::vector<std::string> changed;
      for (const auto& [id, op] : last) (op == 'u' ? changed : sync.removed).push_back(id);
      std::unordered_map<std::string, bool> found;
      for (std::size_t begin = 0; begin < changed.size(); begin += 500) {
        std::string list;
        for (std::size_t i = begin; i < std::min(changed.size(), begin + 500); ++i) {
          list += (list.empty() ? "" : ",") + snapshot.quote(changed[i]);
        }
        for (const auto& row :
             snapshot.exec("SELECT id, person, embedding FROM faces WHERE id IN (" + list + ") ORDER BY row_order")) {
          sync.rows.push_back(index_row(row));
          found[sync.rows.back().id] = true;
        }
      }
      for (const auto& id : changed) {
        if (!found.count(id)) sync.removed.push_back(id);  // changed, then removed
      }
      sync.model = model_in(snapshot);
      seen_seq_ = seq;
      snapshot.commit();
      return sync;
    });
  }

  void begin_write() override {
    guard("begin a write", [&] {
      if (options_.read_only) {
        throw Error(ErrorCode::kGallery, "gallery " + location_ + " is read-only (opened for reading only)");
      }
      work_ = std::make_unique<pqxx::work>(conn());
      work_->exec0("SET LOCAL lock_timeout = " + std::to_string(std::max(1, options_.busy_timeout_ms)));
      work_->exec1("SELECT seq FROM feed_state WHERE id = 1 FOR UPDATE");
      pending_changes_.clear();
    });
  }

  void commit() override {
    guard("commit", [&] {
      if (!pending_changes_.empty()) {
        const auto seq = work_->exec1("UPDATE feed_state SET seq = seq + 1 WHERE id = 1 RETURNING seq")[0]
                             .as<std::int64_t>();
        for (std::size_t begin = 0; begin < pending_changes_.size(); begin += 500) {
          std::string values;
          for (std::size_t i = begin; i < std::min(pending_changes_.size(), begin + 500); ++i) {
            const auto& [op, id] = pending_changes_[i];
            values += (values.empty() ? "(" : ",(") + std::to_string(seq) + ",'" + op + "'," +
                      (id.empty() ? std::string("NULL") : work_->quote(id)) + ")";
          }
          work_->exec0("INSERT INTO changes (seq, op, face_id) VALUES " + values);
        }
        if (seq > kKeptChanges) {
          work_->exec_params0("DELETE FROM changes WHERE seq <= $1", seq - kKeptChanges);
          work_->exec_params0("UPDATE feed_state SET pruned_through = $1 WHERE id = 1", seq - kKeptChanges);
        }
        work_->exec_params("SELECT pg_notify($1, $2)", std::string(kChannel), std::to_string(seq));
      }
      work_->commit();
      work_.reset();
      pending_changes_.clear();
    });
  }

  void rollback() noexcept override {
    try {
      if (work_) work_->abort();
    } catch (...) {
      // The connection is gone; the server rolls back by itself.
    }
    work_.reset();
    pending_changes_.clear();
  }

  void begin_read() override {
    guard("begin a read", [&] { read_ = std::make_unique<pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>>(conn()); });
  }

  void end_read() noexcept override {
    try {
      if (read_) read_->commit();
    } catch (...) {
    }
    read_.reset();
  }

  std::optional<ModelInfo> read_model() override {
    return run("read the model", [&](pqxx::transaction_base& t) { return model_in(t); });
  }

  void write_model(const ModelInfo& m) override {
    run("write the model", [&](pqxx::transaction_base& t) {
      t.exec_params0(
          "INSERT INTO model (id, name, version, weights_sha256) VALUES (1, $1, $2, $3) "
          "ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, "
          "weights_sha256 = excluded.weights_sha256",
          m.name, m.version, m.weights_sha256);
    });
    pending_changes_.emplace_back('s', "");  // other nodes re-read the model with the next change
  }

  std::int64_t count_faces() override { return count("SELECT count(*) FROM faces"); }
  std::int64_t count_people() override { return count("SELECT count(DISTINCT person) FROM faces"); }
  std::int64_t count_faces_of(const std::string& person) override {
    return run("count faces", [&](pqxx::transaction_base& t) {
      return t.exec_params1("SELECT count(*) FROM faces WHERE person = $1", person)[0].as<std::int64_t>();
    });
  }

  std::optional<std::string> face_with_image(const std::string& person, const std::string& sha) override {
    return run("look up an image", [&](pqxx::transaction_base& t) -> std::optional<std::string> {
      const auto r = t.exec_params("SELECT id FROM faces WHERE person = $1 AND image_sha256 = $2", person, sha);
      if (r.empty()) return std::nullopt;
      return r[0][0].as<std::string>();
    });
  }

  bool has_image(const std::string& sha, const std::string* person) override {
    return run("look up an image", [&](pqxx::transaction_base& t) {
      return !(person ? t.exec_params("SELECT 1 FROM faces WHERE image_sha256 = $1 AND person = $2 LIMIT 1", sha,
                                      *person)
                      : t.exec_params("SELECT 1 FROM faces WHERE image_sha256 = $1 LIMIT 1", sha))
                  .empty();
    });
  }

  std::vector<ImageFace> faces_of_image(const std::string& sha) override {
    return run("look up an image", [&](pqxx::transaction_base& t) {
      std::vector<ImageFace> out;
      for (const auto& row : t.exec_params("SELECT id, person, box_left, box_top, box_width, box_height FROM faces "
                                           "WHERE image_sha256 = $1 ORDER BY row_order",
                                           sha)) {
        out.push_back({row[0].as<std::string>(), row[1].as<std::string>(),
                       {float(row[2].as<double>()), float(row[3].as<double>()), float(row[4].as<double>()),
                        float(row[5].as<double>())}});
      }
      return out;
    });
  }

  bool has_face_id(const std::string& id) override {
    return run("look up a face", [&](pqxx::transaction_base& t) {
      return !t.exec_params("SELECT 1 FROM faces WHERE id = $1", id).empty();
    });
  }

  void insert_face(const GalleryFace& f) override {
    run("insert a face", [&](pqxx::transaction_base& t) {
      const Face& face = f.face;
      const FaceQuality& q = face.quality;
      t.exec_params0(std::string("INSERT INTO faces (") + kFaceColumns +
                         ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, "
                         "$18, $19, $20, $21, $22)",
                     f.id, f.person, f.source_path, f.image_sha256, double{face.box.left}, double{face.box.top},
                     double{face.box.width}, double{face.box.height}, double{face.score},
                     binary(landmark_bytes(face.landmarks)), double{q.face_size_px}, double{q.brightness},
                     double{q.contrast}, double{q.sharpness}, double{q.noise}, double{q.yaw}, q.grayscale,
                     binary(embedding_bytes(f.embedding)), f.model.name, f.model.version, f.model.weights_sha256,
                     static_cast<long long>(f.created_unix_ms));
    });
    if (!f.thumbnail_jpeg.empty()) {
      run("store a thumbnail", [&](pqxx::transaction_base& t) {
        t.exec_params0("UPDATE faces SET thumbnail = $2 WHERE id = $1", f.id, binary(f.thumbnail_jpeg));
      });
    }
    pending_changes_.emplace_back('u', f.id);
  }

  // --- schema 2 (issue 20): thumbnails, unknown faces, clusters, negative examples ---

  std::optional<std::vector<std::uint8_t>> face_thumbnail(const std::string& id) override {
    return thumbnail_from("SELECT thumbnail FROM faces WHERE id = $1", id);
  }

  std::optional<std::string> face_with_thumbnail(const std::string& person) override {
    return run("find a thumbnail", [&](pqxx::transaction_base& t) -> std::optional<std::string> {
      const auto r = t.exec_params(
          "SELECT id FROM faces WHERE person = $1 AND thumbnail IS NOT NULL ORDER BY row_order LIMIT 1", person);
      if (r.empty()) return std::nullopt;
      return r[0][0].as<std::string>();
    });
  }

  void move_face(const std::string& id, const std::string& to) override {
    run("move a face", [&](pqxx::transaction_base& t) {
      t.exec_params0("UPDATE faces SET person = $2 WHERE id = $1", id, to);
    });
    pending_changes_.emplace_back('u', id);
  }

  void insert_unknown(const UnknownFace& u) override {
    run("keep an unknown face", [&](pqxx::transaction_base& t) {
      const GalleryFace& f = u.face;
      const Face& face = f.face;
      const FaceQuality& q = face.quality;
      t.exec_params0(std::string("INSERT INTO unknown_faces (") + kFaceColumns +
                         ", source_key, quality_score) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                         "$13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
                     f.id, std::string(), f.source_path, f.image_sha256, double{face.box.left}, double{face.box.top},
                     double{face.box.width}, double{face.box.height}, double{face.score},
                     binary(landmark_bytes(face.landmarks)), double{q.face_size_px}, double{q.brightness},
                     double{q.contrast}, double{q.sharpness}, double{q.noise}, double{q.yaw}, q.grayscale,
                     binary(embedding_bytes(f.embedding)), f.model.name, f.model.version, f.model.weights_sha256,
                     static_cast<long long>(f.created_unix_ms), u.source_key, double{u.quality});
      if (u.cluster) t.exec_params0("UPDATE unknown_faces SET cluster_id = $2 WHERE id = $1", f.id, static_cast<long long>(*u.cluster));
      if (!f.thumbnail_jpeg.empty()) {
        t.exec_params0("UPDATE unknown_faces SET thumbnail = $2 WHERE id = $1", f.id, binary(f.thumbnail_jpeg));
      }
    });
  }

  std::vector<Embedding> unknown_embeddings_with_key(const std::string& key) override {
    const pqxx::result r = run("read unknown faces", [&](pqxx::transaction_base& t) {
      return t.exec_params("SELECT id, embedding FROM unknown_faces WHERE source_key = $1", key);
    });
    std::vector<Embedding> out;
    for (const auto& row : r) out.push_back(embedding_at(row, 1, row[0].as<std::string>()));
    return out;
  }

  std::int64_t count_unknown() override { return count("SELECT count(*) FROM unknown_faces"); }

  std::vector<UnknownFace> unknown_page(std::int64_t offset, std::int64_t limit) override {
    return unknown_rows_where("ORDER BY created_unix_ms DESC, row_order DESC LIMIT $1 OFFSET $2",
                              static_cast<long long>(limit), static_cast<long long>(offset));
  }

  std::optional<UnknownFace> unknown_face(const std::string& id) override {
    auto rows = unknown_rows_where("WHERE id = $1", id);
    if (rows.empty()) return std::nullopt;
    return std::move(rows.front());
  }

  std::optional<std::vector<std::uint8_t>> unknown_thumbnail(const std::string& id) override {
    return thumbnail_from("SELECT thumbnail FROM unknown_faces WHERE id = $1", id);
  }

  std::size_t delete_unknown_before(std::int64_t unix_ms) override {
    return run("purge unknown faces", [&](pqxx::transaction_base& t) {
      return static_cast<std::size_t>(
          t.exec_params("DELETE FROM unknown_faces WHERE created_unix_ms < $1", static_cast<long long>(unix_ms))
              .affected_rows());
    });
  }

  std::size_t delete_unknown_beyond(std::int64_t keep_newest) override {
    return run("purge unknown faces", [&](pqxx::transaction_base& t) {
      return static_cast<std::size_t>(
          t.exec_params("DELETE FROM unknown_faces WHERE row_order NOT IN (SELECT row_order FROM unknown_faces "
                        "ORDER BY created_unix_ms DESC, row_order DESC LIMIT $1)",
                        static_cast<long long>(keep_newest))
              .affected_rows());
    });
  }

  std::size_t delete_all_unknown() override {
    return run("purge unknown faces", [&](pqxx::transaction_base& t) {
      const auto removed = static_cast<std::size_t>(t.exec("DELETE FROM unknown_faces").affected_rows());
      t.exec0("DELETE FROM clusters");
      return removed;
    });
  }

  bool delete_unknown(const std::string& id) override {
    return run("remove an unknown face", [&](pqxx::transaction_base& t) {
      return t.exec_params("DELETE FROM unknown_faces WHERE id = $1", id).affected_rows() > 0;
    });
  }

  std::vector<UnknownRow> unknown_rows() override {
    const pqxx::result r = run("read unknown faces", [&](pqxx::transaction_base& t) {
      return t.exec("SELECT id, embedding, cluster_id FROM unknown_faces ORDER BY row_order");
    });
    std::vector<UnknownRow> out;
    for (const auto& row : r) {
      UnknownRow u{row[0].as<std::string>(), {}, std::nullopt};
      u.embedding = embedding_at(row, 1, u.id);
      if (!row[2].is_null()) u.cluster = row[2].as<std::int64_t>();
      out.push_back(std::move(u));
    }
    return out;
  }

  void set_unknown_cluster(const std::string& id, std::optional<std::int64_t> cluster) override {
    run("set a cluster", [&](pqxx::transaction_base& t) {
      if (cluster) {
        t.exec_params0("UPDATE unknown_faces SET cluster_id = $2 WHERE id = $1", id, static_cast<long long>(*cluster));
      } else {
        t.exec_params0("UPDATE unknown_faces SET cluster_id = NULL WHERE id = $1", id);
      }
    });
  }

  void replace_clusters(const std::vector<ClusterRow>& clusters) override {
    run("store clusters", [&](pqxx::transaction_base& t) {
      t.exec0("DELETE FROM clusters");
      for (const ClusterRow& c : clusters) {
        t.exec_params0("INSERT INTO clusters (id, centroid) VALUES ($1, $2)", static_cast<long long>(c.id),
                       binary(embedding_bytes(c.centroid)));
      }
    });
  }

  std::int64_t take_cluster_ids(std::int64_t count) override {
    return run("number clusters", [&](pqxx::transaction_base& t) {
      const auto first =
          std::max(t.exec1("SELECT coalesce(max(value), 0) FROM counters WHERE name = 'cluster'")[0].as<std::int64_t>(),
                   t.exec1("SELECT coalesce(max(id), 0) FROM clusters")[0].as<std::int64_t>()) + 1;
      t.exec_params0("INSERT INTO counters (name, value) VALUES ('cluster', $1) "
                     "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                     static_cast<long long>(first + count - 1));
      return first;
    });
  }

  std::int64_t count_clusters() override { return count("SELECT count(*) FROM clusters"); }

  std::vector<ClusterRow> cluster_page(std::int64_t offset, std::int64_t limit) override {
    return read_clusters(run("read clusters", [&](pqxx::transaction_base& t) {
      return t.exec_params(
          "SELECT c.id, c.centroid, (SELECT count(*) FROM unknown_faces u WHERE u.cluster_id = c.id) AS size "
          "FROM clusters c ORDER BY size DESC, c.id LIMIT $1 OFFSET $2",
          static_cast<long long>(limit), static_cast<long long>(offset));
    }));
  }

  std::vector<ClusterRow> all_clusters() override {
    return read_clusters(run("read clusters", [&](pqxx::transaction_base& t) {
      return t.exec(
          "SELECT c.id, c.centroid, (SELECT count(*) FROM unknown_faces u WHERE u.cluster_id = c.id) "
          "FROM clusters c ORDER BY c.id");
    }));
  }

  std::vector<UnknownFace> unknown_of_cluster(std::int64_t cluster, std::int64_t limit) override {
    return unknown_rows_where("WHERE cluster_id = $1 ORDER BY row_order LIMIT $2", static_cast<long long>(cluster),
                              static_cast<long long>(limit));
  }

  void delete_cluster(std::int64_t cluster) override {
    run("remove a cluster", [&](pqxx::transaction_base& t) {
      t.exec_params0("DELETE FROM unknown_faces WHERE cluster_id = $1", static_cast<long long>(cluster));
      t.exec_params0("DELETE FROM clusters WHERE id = $1", static_cast<long long>(cluster));
    });
  }

  // Other nodes reload their negative examples when the feed moves: an 's' entry moves it.
  void insert_negative(const NegativeExample& n) override {
    run("store a negative example", [&](pqxx::transaction_base& t) {
      t.exec_params0("INSERT INTO negatives (id, person, source_path, embedding, created_unix_ms) "
                     "VALUES ($1, $2, $3, $4, $5)",
                     n.id, n.person, n.source_path, binary(embedding_bytes(n.embedding)),
                     static_cast<long long>(n.created_unix_ms));
    });
    pending_changes_.emplace_back('s', std::string());
  }

  std::vector<NegativeExample> negatives(const std::string* person) override {
    const pqxx::result r = run("read negative examples", [&](pqxx::transaction_base& t) {
      const std::string select = "SELECT id, person, source_path, embedding, created_unix_ms FROM negatives ";
      return person ? t.exec_params(select + "WHERE person = $1 ORDER BY row_order", *person)
                    : t.exec(select + "ORDER BY row_order");
    });
    std::vector<NegativeExample> out;
    for (const auto& row : r) {
      NegativeExample n;
      n.id = row[0].as<std::string>();
      n.person = row[1].as<std::string>();
      n.source_path = row[2].as<std::string>();
      n.embedding = embedding_at(row, 3, n.id);
      n.created_unix_ms = row[4].as<std::int64_t>();
      out.push_back(std::move(n));
    }
    return out;
  }

  std::size_t delete_negatives(const std::string* person) override {
    return run("remove negative examples", [&](pqxx::transaction_base& t) {
      return static_cast<std::size_t>(
          (person ? t.exec_params("DELETE FROM negatives WHERE person = $1", *person)
                  : t.exec0("DELETE FROM negatives"))
              .affected_rows());
    });
  }

  std::size_t move_negatives(const std::string& from, const std::string& to) override {
    const auto moved = run("move negative examples", [&](pqxx::transaction_base& t) {
      return static_cast<std::size_t>(
          t.exec_params("UPDATE negatives SET person = $2 WHERE person = $1", from, to).affected_rows());
    });
    if (moved > 0) pending_changes_.emplace_back('s', std::string());
    return moved;
  }

  std::size_t delete_person(const std::string& person) override {
    return log_ids('d', run("remove a person", [&](pqxx::transaction_base& t) {
                     return t.exec_params("DELETE FROM faces WHERE person = $1 RETURNING id", person);
                   }));
  }

  bool delete_face(const std::string& id) override {
    return log_ids('d', run("remove a face", [&](pqxx::transaction_base& t) {
                     return t.exec_params("DELETE FROM faces WHERE id = $1 RETURNING id", id);
                   })) > 0;
  }

  std::vector<std::string> faces_sharing_images(const std::string& from, const std::string& to) override {
    return run("find shared images", [&](pqxx::transaction_base& t) {
      std::vector<std::string> ids;
      for (const auto& row : t.exec_params("SELECT id FROM faces WHERE person = $1 AND image_sha256 IN "
                                           "(SELECT image_sha256 FROM faces WHERE person = $2)",
                                           from, to)) {
        ids.push_back(row[0].as<std::string>());
      }
      return ids;
    });
  }

  std::size_t move_person(const std::string& from, const std::string& to) override {
    return log_ids('u', run("rename a person", [&](pqxx::transaction_base& t) {
                     return t.exec_params("UPDATE faces SET person = $2 WHERE person = $1 RETURNING id", from, to);
                   }));
  }

  std::size_t delete_all_faces() override {
    const auto removed = run("remove every face", [&](pqxx::transaction_base& t) {
      return t.exec0("DELETE FROM faces").affected_rows();
    });
    pending_changes_.emplace_back('r', "");
    return removed;
  }

  std::vector<std::string> face_ids() override {
    return run("list faces", [&](pqxx::transaction_base& t) {
      std::vector<std::string> ids;
      for (const auto& row : t.exec("SELECT id FROM faces ORDER BY row_order")) ids.push_back(row[0].as<std::string>());
      return ids;
    });
  }

  void update_embedding(const std::string& id, const Embedding& embedding, const ModelInfo& model) override {
    run("update an embedding", [&](pqxx::transaction_base& t) {
      t.exec_params0(
          "UPDATE faces SET embedding = $2, model_name = $3, model_version = $4, model_weights_sha256 = $5 "
          "WHERE id = $1",
          id, binary(embedding_bytes(embedding)), model.name, model.version, model.weights_sha256);
    });
    pending_changes_.emplace_back('u', id);
  }

  void update_geometry(const std::string& id, const Face& f) override {
    run("update a face", [&](pqxx::transaction_base& t) {
      const FaceQuality& q = f.quality;
      t.exec_params0(
          "UPDATE faces SET box_left = $2, box_top = $3, box_width = $4, box_height = $5, score = $6, "
          "landmarks = $7, face_size_px = $8, brightness = $9, contrast = $10, sharpness = $11, noise = $12, "
          "yaw = $13, grayscale = $14 WHERE id = $1",
          id, double{f.box.left}, double{f.box.top}, double{f.box.width}, double{f.box.height}, double{f.score},
          binary(landmark_bytes(f.landmarks)), double{q.face_size_px}, double{q.brightness}, double{q.contrast},
          double{q.sharpness}, double{q.noise}, double{q.yaw}, q.grayscale);
    });
  }

  std::optional<GalleryFace> face(const std::string& id) override {
    return run("read a face", [&](pqxx::transaction_base& t) -> std::optional<GalleryFace> {
      const auto r = t.exec_params(std::string("SELECT ") + kFaceColumns + " FROM faces WHERE id = $1", id);
      if (r.empty()) return std::nullopt;
      return read_face(r[0]);
    });
  }

  void for_each_face(const std::string* person, const std::function<void(GalleryFace&&)>& visit,
                     bool with_thumbnails) override {
    const pqxx::result r = run("read faces", [&](pqxx::transaction_base& t) {
      // Column 22: the thumbnail (NULL when none).
      const std::string select =
          std::string("SELECT ") + kFaceColumns + (with_thumbnails ? ", thumbnail" : "") + " FROM faces ";
      return person ? t.exec_params(select + "WHERE person = $1 ORDER BY row_order", *person)
                    : t.exec(select + "ORDER BY row_order");
    });
    for (const auto& row : r) {
      GalleryFace f = read_face(row);
      if (with_thumbnails && !row[22].is_null()) {
        const pqxx::binarystring bytes(row[22]);
        f.thumbnail_jpeg.assign(bytes.data(), bytes.data() + bytes.size());
      }
      visit(std::move(f));
    }
  }

  std::vector<PersonSummary> people() override {
    return run("list people", [&](pqxx::transaction_base& t) {
      std::vector<PersonSummary> out;
      // COLLATE "C": byte order, as SQLite sorts.
      for (const auto& row : t.exec("SELECT person, count(*) FROM faces GROUP BY person ORDER BY person COLLATE \"C\"")) {
        out.push_back({row[0].as<std::string>(), row[1].as<std::int64_t>()});
      }
      return out;
    });
  }

  Settings settings() override {
    return run("read settings", [&](pqxx::transaction_base& t) {
      Settings out;
      for (const auto& row : t.exec("SELECT key, value FROM settings ORDER BY key COLLATE \"C\"")) {
        out.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
      }
      return out;
    });
  }

  std::optional<std::string> setting(const std::string& key) override {
    return run("read a setting", [&](pqxx::transaction_base& t) -> std::optional<std::string> {
      const auto r = t.exec_params("SELECT value FROM settings WHERE key = $1", key);
      if (r.empty()) return std::nullopt;
      return r[0][0].as<std::string>();
    });
  }

  void put_setting(const std::string& key, const std::string& value) override {
    run("write a setting", [&](pqxx::transaction_base& t) {
      t.exec_params0(
          "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
          key, value);
    });
    pending_changes_.emplace_back('s', "");
  }

  bool delete_setting(const std::string& key) override {
    const bool erased = run("remove a setting", [&](pqxx::transaction_base& t) {
      return t.exec_params("DELETE FROM settings WHERE key = $1", key).affected_rows() > 0;
    });
    if (erased) pending_changes_.emplace_back('s', "");
    return erased;
  }

  int schema_version() override {
    return static_cast<int>(count("SELECT coalesce(max(version), 0) FROM siamface_migrations"));
  }

  std::int64_t stored_bytes() override {
    return count(
        "SELECT pg_total_relation_size('faces') + pg_total_relation_size('changes') + "
        "pg_total_relation_size('settings') + pg_total_relation_size('model')");
  }

  // Deleted rows stay in the table files as dead tuples until VACUUM reclaims them (autovacuum
  // does, in time); docs/postgresql.md says how to make PostgreSQL forget at once.
  void forget_removed(bool must) override { (void)must; }

 private:
  // --- connection and errors ---

  void connect() {
    conn_.reset();
    conn_ = std::make_unique<pqxx::connection>(url_);
    if (options_.read_only) pqxx::nontransaction(*conn_).exec0("SET default_transaction_read_only = on");
  }

  pqxx::connection& conn() {
    if (!conn_ || !conn_->is_open()) connect();
    return *conn_;
  }

  // Maps libpqxx errors to siamface::Error naming the gallery and `what` was being done. A
  // lost connection (kGalleryUnavailable) is dropped, so the next call connects again.
  template <typename F>
  auto guard(const char* what, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const Error&) {
      throw;
    } catch (const pqxx::broken_connection& e) {
      lost();
      throw Error(ErrorCode::kGalleryUnavailable, "lost the connection to the PostgreSQL gallery " + location_ +
                                                      " (" + what + "): " + first_line(e.what()));
    } catch (const pqxx::in_doubt_error& e) {
      lost();
      throw Error(ErrorCode::kGalleryUnavailable, "lost the connection to the PostgreSQL gallery " + location_ +
                                                      " while committing; the write may or may not have happened: " +
                                                      first_line(e.what()));
    } catch (const pqxx::sql_error& e) {
      const std::string& state = e.sqlstate();
      if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03") {
        lost();
        throw Error(ErrorCode::kGalleryUnavailable, "lost the connection to the PostgreSQL gallery " + location_ +
                                                        " (" + what + "): " + first_line(e.what()));
      }
      rollback();
      if (state == "55P03" || state == "40P01" || state == "40001") {
        throw Error(ErrorCode::kGalleryBusy, "PostgreSQL gallery " + location_ + " is locked by another writer (" +
                                                 what + "): " + first_line(e.what()));
      }
      if (state == "25006") {
        throw Error(ErrorCode::kGallery, "gallery " + location_ + " is read-only: " + first_line(e.what()));
      }
      throw Error(ErrorCode::kGallery, "PostgreSQL gallery " + location_ + " failed to " + what + ": " +
                                           first_line(e.what()));
    } catch (const pqxx::failure& e) {
      // Includes "connection broken" variants libpqxx reports without a SQLSTATE.
      lost();
      throw Error(ErrorCode::kGalleryUnavailable, "lost the connection to the PostgreSQL gallery " + location_ +
                                                      " (" + what + "): " + first_line(e.what()));
    } catch (const std::exception& e) {  // libpqxx usage, range and conversion errors: a bug or a corrupt row
      throw Error(ErrorCode::kGallery, "PostgreSQL gallery " + location_ + " failed to " + what + ": " + e.what());
    }
  }

  static std::string first_line(const std::string& text) {
    const auto end = text.find('\n');
    return end == std::string::npos ? text : text.substr(0, end);
  }

  void lost() noexcept {
    read_.reset();
    work_.reset();
    pending_changes_.clear();
    conn_.reset();
  }

  // Runs `f` in the open write or read transaction, else in its own autocommit statement.
  template <typename F>
  auto run(const char* what, F&& f) -> std::invoke_result_t<F, pqxx::transaction_base&> {
    return guard(what, [&]() -> std::invoke_result_t<F, pqxx::transaction_base&> {
      if (work_) return f(*work_);
      if (read_) return f(*read_);
      pqxx::nontransaction t(conn());
      return f(t);
    });
  }

  std::int64_t count(const char* sql) {
    return run("count", [&](pqxx::transaction_base& t) { return t.exec1(sql)[0].as<std::int64_t>(); });
  }

  std::size_t log_ids(char op, const pqxx::result& ids) {
    for (const auto& row : ids) pending_changes_.emplace_back(op, row[0].as<std::string>());
    return ids.size();
  }

  // --- schema ---

  void migrate() {
    pqxx::work t(conn());
    t.exec_params("SELECT pg_advisory_xact_lock($1)", static_cast<long long>(kAdvisoryLockKey));
    const bool has_table = t.exec1("SELECT to_regclass('siamface_migrations') IS NOT NULL")[0].as<bool>();
    int version = 0;
    if (has_table) {
      version = t.exec1("SELECT coalesce(max(version), 0) FROM siamface_migrations")[0].as<int>();
    } else if (t.exec1("SELECT to_regclass('faces') IS NOT NULL")[0].as<bool>()) {
      throw Error(ErrorCode::kGallery, "database " + location_ + " has a 'faces' table but is not a siamface gallery");
    }
    if (version > kSchemaVersion) {
      throw Error(ErrorCode::kGallery, "gallery " + location_ + " has schema version " + std::to_string(version) +
                                           ", newer than this siamface supports (" + std::to_string(kSchemaVersion) +
                                           "); upgrade siamface");
    }
    if (version == kSchemaVersion) {
      t.commit();
      return;
    }
    if (options_.read_only || (!options_.create && version == 0)) {
      if (version == 0) throw Error(ErrorCode::kNotFound, "gallery " + location_ + " does not exist (no siamface schema)");
      throw Error(ErrorCode::kGallery, "gallery " + location_ + " needs a schema upgrade; open it for writing once");
    }
    if (!has_table) {
      t.exec0("CREATE TABLE siamface_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    }
    for (int v = version + 1; v <= kSchemaVersion; ++v) {
      t.exec0(kMigrations[v - 1]);
      t.exec_params0("INSERT INTO siamface_migrations (version) VALUES ($1)", v);
    }
    t.commit();
  }

  // --- rows ---

  static ModelInfo row_model(const pqxx::row& row, int first) {
    return {row[first].as<std::string>(), row[first + 1].as<std::string>(), row[first + 2].as<std::string>()};
  }

  static std::optional<ModelInfo> model_in(pqxx::transaction_base& t) {
    const auto r = t.exec("SELECT name, version, weights_sha256 FROM model WHERE id = 1");
    if (r.empty()) return std::nullopt;
    return row_model(r[0], 0);
  }

  IndexRow index_row(const pqxx::row& row) const {
    IndexRow out{row[0].as<std::string>(), row[1].as<std::string>(), {}};
    auto embedding = embedding_from_bytes(bytes_of(pqxx::binarystring(row[2])));
    if (!embedding) {
      throw Error(ErrorCode::kGallery, "gallery " + location_ + " is corrupt: face " + out.id + " has a malformed embedding");
    }
    out.embedding = std::move(*embedding);
    return out;
  }

  IndexSync load_all(pqxx::transaction_base& t) {
    IndexSync sync;
    sync.full = true;
    const auto seq = t.exec1("SELECT seq FROM feed_state WHERE id = 1")[0].as<std::int64_t>();
    sync.model = model_in(t);
    const auto rows = t.exec("SELECT id, person, embedding FROM faces ORDER BY row_order");
    sync.rows.reserve(rows.size());
    for (const auto& row : rows) {
      sync.rows.push_back(index_row(row));
      if (sync.rows.back().embedding.size() != sync.rows.front().embedding.size()) {
        throw Error(ErrorCode::kGallery,
                    "gallery " + location_ + " is corrupt: face " + sync.rows.back().id + " has a malformed embedding");
      }
    }
    seen_seq_ = seq;
    return sync;
  }

  GalleryFace read_face(const pqxx::row& row) const {
    GalleryFace f;
    f.id = row[0].as<std::string>();
    f.person = row[1].as<std::string>();
    f.source_path = row[2].as<std::string>();
    f.image_sha256 = row[3].as<std::string>();
    f.face.box = {float(row[4].as<double>()), float(row[5].as<double>()), float(row[6].as<double>()),
                  float(row[7].as<double>())};
    f.face.score = float(row[8].as<double>());
    auto landmarks = landmarks_from_bytes(bytes_of(pqxx::binarystring(row[9])));
    auto embedding = embedding_from_bytes(bytes_of(pqxx::binarystring(row[17])));
    if (!landmarks || !embedding) {
      throw Error(ErrorCode::kGallery, "gallery " + location_ + " is corrupt: face " + f.id + " has a malformed blob");
    }
    f.face.landmarks = *landmarks;
    f.embedding = std::move(*embedding);
    FaceQuality& q = f.face.quality;
    q.face_size_px = float(row[10].as<double>());
    q.brightness = float(row[11].as<double>());
    q.contrast = float(row[12].as<double>());
    q.sharpness = float(row[13].as<double>());
    q.noise = float(row[14].as<double>());
    q.yaw = float(row[15].as<double>());
    q.grayscale = row[16].as<bool>();
    f.model = row_model(row, 18);
    f.created_unix_ms = row[21].as<std::int64_t>();
    return f;
  }

  Embedding embedding_at(const pqxx::row& row, int column, const std::string& id) const {
    auto embedding = embedding_from_bytes(bytes_of(pqxx::binarystring(row[column])));
    if (!embedding) {
      throw Error(ErrorCode::kGallery, "gallery " + location_ + " is corrupt: row " + id + " has a malformed embedding");
    }
    return std::move(*embedding);
  }

  std::optional<std::vector<std::uint8_t>> thumbnail_from(const char* sql, const std::string& id) {
    return run("read a thumbnail", [&](pqxx::transaction_base& t) -> std::optional<std::vector<std::uint8_t>> {
      const auto r = t.exec_params(sql, id);
      if (r.empty() || r[0][0].is_null()) return std::nullopt;
      const pqxx::binarystring bytes(r[0][0]);
      return std::vector<std::uint8_t>(bytes.data(), bytes.data() + bytes.size());
    });
  }

  template <typename... Args>
  std::vector<UnknownFace> unknown_rows_where(const std::string& where, Args&&... args) {
    const pqxx::result r = run("read unknown faces", [&](pqxx::transaction_base& t) {
      return t.exec_params(std::string("SELECT ") + kFaceColumns +
                               ", source_key, quality_score, cluster_id FROM unknown_faces " + where,
                           std::forward<Args>(args)...);
    });
    std::vector<UnknownFace> out;
    for (const auto& row : r) {
      UnknownFace u;
      u.face = read_face(row);
      u.source_key = row[22].as<std::string>();
      u.quality = float(row[23].as<double>());
      if (!row[24].is_null()) u.cluster = row[24].as<std::int64_t>();
      out.push_back(std::move(u));
    }
    return out;
  }

  std::vector<ClusterRow> read_clusters(const pqxx::result& r) const {
    std::vector<ClusterRow> out;
    for (const auto& row : r) {
      ClusterRow c;
      c.id = row[0].as<std::int64_t>();
      c.centroid = embedding_at(row, 1, "cluster " + std::to_string(c.id));
      c.size = row[2].as<std::int64_t>();
      out.push_back(std::move(c));
    }
    return out;
  }

  // --- the change feed: LISTEN on a connection of its own ---

  class Receiver final : public pqxx::notification_receiver {
   public:
    Receiver(pqxx::connection_base& c, PostgresStore& store) : notification_receiver(c, kChannel), store_(store) {}
    void operator()(const std::string&, int) override { store_.changed(); }

   private:
    PostgresStore& store_;
  };

  void changed() {
    pending_ = true;
    std::function<void()> callback;
    {
      std::lock_guard lock(callback_mutex_);
      callback = callback_;
    }
    if (callback) callback();
  }

  bool stopping() {
    std::lock_guard lock(stop_mutex_);
    return stopping_;
  }

  // Waits `delay` unless asked to stop; false when stopping.
  bool sleep_for(std::chrono::milliseconds delay) {
    std::unique_lock lock(stop_mutex_);
    return !stop_cv_.wait_for(lock, delay, [&] { return stopping_; });
  }

  void listen() {
    auto backoff = std::chrono::milliseconds(100);
    while (!stopping()) {
      try {
        pqxx::connection c(url_);
        Receiver receiver(c, *this);
        c.get_notifs();  // sends LISTEN
        listening_ = true;
        backoff = std::chrono::milliseconds(100);
        changed();  // catch up on whatever happened while we were not listening
        // Sleeps until the server sends something or stop_listening() writes to the pipe.
        while (!stopping()) {
          pollfd fds[2] = {{c.sock(), POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
          if (::poll(fds, 2, 10'000) < 0 && errno != EINTR) break;
          if (fds[1].revents != 0) break;
          if (fds[0].revents != 0) c.get_notifs();  // throws when the connection broke
          if (!c.is_open()) break;
        }
      } catch (const std::exception&) {
        // Server down or restarting: searches poll meanwhile (may_have_changed), and we retry.
      }
      listening_ = false;
      if (!sleep_for(backoff)) break;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
    listening_ = false;
  }

  std::string url_;
  std::string location_;
  GalleryOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::work> work_;
  std::unique_ptr<pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>> read_;
  std::vector<std::pair<char, std::string>> pending_changes_;  // op, face id (empty for r/s)
  std::int64_t seen_seq_ = -1;

  std::thread listener_;
  std::atomic<bool> listening_{false};
  std::atomic<bool> pending_{true};
  std::mutex stop_mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  int stop_pipe_[2] = {-1, -1};
  std::mutex callback_mutex_;
  std::function<void()> callback_;
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const std::string& url, const GalleryOptions& options) {
  return std::make_unique<PostgresStore>(url, options);
}

}  // namespace gallery

bool is_postgres_gallery(const std::string& path) {
  return path.rfind("postgresql://", 0) == 0 || path.rfind("postgres://", 0) == 0;
}

}  // namespace siamface
