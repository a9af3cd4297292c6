// Compresses a file set aside by rotation with zstd: "trades.<time>.jsonl"
// becomes "trades.<time>.jsonl.zst", which `zstd -d` or `zstdcat` reads.
#pragma once

#include <string>

namespace wsgather {

// Compresses `path` into `path + ".zst"` (level 3, with a checksum of the
// content), in chunks: memory stays small whatever the file's size. The
// original is removed once the compressed file is on disk under its name.
// Returns "" on success, else a one-line message naming the file and the
// reason; then the original is still there and no temporary file is left
// (a complete .zst may be beside it when only the last steps failed).
std::string compress_file(const std::string& path);

}  // namespace wsgather
