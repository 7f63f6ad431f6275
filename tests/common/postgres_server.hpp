// A throw-away PostgreSQL server for tests: initdb + pg_ctl in a temporary folder, listening
// only on a unix socket in that folder (no TCP), stopped and removed at the end. Run as root
// (CI containers), the server runs as the unprivileged `postgres` user (initdb refuses root).
// Binaries: $SIAMFACE_PG_BIN, else Debian's /usr/lib/postgresql/15/bin (package postgresql-15).
#pragma once

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/run_command.hpp"
#include "common/test_env.hpp"

namespace siamface::test {

class PostgresServer {
 public:
  static std::filesystem::path bin_dir() {
    if (const char* env = std::getenv("SIAMFACE_PG_BIN"); env && *env) return env;
    return "/usr/lib/postgresql/15/bin";
  }

  // Why no server can be started here, or nullopt.
  static std::optional<std::string> missing() {
    for (const char* tool : {"initdb", "pg_ctl", "postgres", "createdb", "psql"}) {
      if (!std::filesystem::exists(bin_dir() / tool)) {
        return std::string("PostgreSQL's ") + tool + " not found in " + bin_dir().string() +
               " (Debian: apt-get install postgresql-15, or set SIAMFACE_PG_BIN)";
      }
    }
    if (::geteuid() == 0 && !::getpwnam("postgres")) return std::string("running as root and no 'postgres' user");
    return std::nullopt;
  }

  PostgresServer() {
    char pattern[] = "/tmp/siamface-pg-XXXXXX";
    if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    if (::geteuid() == 0) {
      const passwd* pw = ::getpwnam("postgres");
      if (!pw || ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) throw std::runtime_error("cannot chown " + dir_);
      as_user_ = "runuser -u postgres -- ";
    }
    port_ = free_port();
    must(tool("initdb") + " -D " + shell_quote(dir_ + "/data") +
         " -U siamface -A trust -E UTF8 --no-locale --no-sync --no-instructions");
    start();
  }

  ~PostgresServer() {
    run_command(tool("pg_ctl") + " -D " + shell_quote(dir_ + "/data") + " -m immediate -w stop");
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  void start() {
    must(tool("pg_ctl") + " -D " + shell_quote(dir_ + "/data") + " -l " + shell_quote(dir_ + "/log") +
         " -w -t 30 -o " + shell_quote("-k " + dir_ + " -p " + std::to_string(port_) +
                                        " -c listen_addresses='' -c fsync=off -c max_connections=200") +
         " start");
  }

  // mode: fast (clients are told, transactions roll back) or immediate (as a crash).
  void stop(const std::string& mode = "fast") {
    must(tool("pg_ctl") + " -D " + shell_quote(dir_ + "/data") + " -m " + mode + " -w stop");
  }

  // A new, empty database; returns its URL.
  std::string create_database() {
    const std::string name = "g" + std::to_string(++databases_);
    must(tool("createdb") + " -h " + shell_quote(dir_) + " -p " + std::to_string(port_) + " -U siamface " + name);
    return url(name);
  }

  std::string url(const std::string& database) const {
    return "postgresql:///" + database + "?host=" + dir_ + "&port=" + std::to_string(port_) + "&user=siamface";
  }

  // Runs SQL with psql; returns its unaligned output (rows, no header).
  std::string psql(const std::string& database, const std::string& sql) const {
    const CommandResult r = run_command(tool("psql") + " -X -A -t -q -h " + shell_quote(dir_) + " -p " +
                                        std::to_string(port_) + " -U siamface -d " + database + " -c " +
                                        shell_quote(sql));
    if (r.exit_code != 0) throw std::runtime_error("psql failed: " + r.output);
    return r.output;
  }

  const std::string& dir() const { return dir_; }

 private:
  std::string tool(const std::string& name) const { return as_user_ + shell_quote((bin_dir() / name).string()); }

  void must(const std::string& command) const {
    const CommandResult r = run_command(command);
    if (r.exit_code != 0) {
      throw std::runtime_error("command failed (" + std::to_string(r.exit_code) + "): " + command + "\n" + r.output);
    }
  }

  static int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof addr;
    int port = 55432;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) == 0) {
      port = ntohs(addr.sin_port);
    }
    if (fd >= 0) ::close(fd);
    return port;
  }

  std::string dir_;
  std::string as_user_;
  int port_ = 0;
  int databases_ = 0;
};

// One server per test executable, started on first use and stopped at exit.
inline PostgresServer& shared_postgres() {
  static const std::unique_ptr<PostgresServer> server = std::make_unique<PostgresServer>();
  return *server;
}

}  // namespace siamface::test

// Skips (or fails under CI) unless a PostgreSQL server can be started here.
#define SIAMFACE_REQUIRE_POSTGRES()                                             \
  do {                                                                          \
    if (const auto reason = ::siamface::test::PostgresServer::missing()) {      \
      if (::siamface::test::data_required()) FAIL() << *reason;                 \
      GTEST_SKIP() << *reason;                                                  \
    }                                                                           \
  } while (0)
