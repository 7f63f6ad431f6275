#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace siamface {

// Lower-case hex SHA-256 (OpenSSL's EVP implementation).
std::string sha256_hex(std::span<const std::uint8_t> bytes);
std::string sha256_hex_of_file(const std::filesystem::path& path);  // throws Error(kIo)

}  // namespace siamface
