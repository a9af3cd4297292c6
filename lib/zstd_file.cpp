#include "zstd_file.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <fcntl.h>
#include <memory>
#include <system_error>
#include <unistd.h>
#include <vector>
#include <zstd.h>

namespace wsgather {

namespace {

std::string errno_text() {
    return std::generic_category().message(errno);
}

// Closes a descriptor at the end of its scope.
struct Descriptor {
    int fd = -1;
    ~Descriptor() {
        if (fd >= 0) ::close(fd);
    }
};

// read(2), again when a signal interrupts it: 0 at the end, -1 on error.
ssize_t read_some(int fd, char* data, std::size_t size) {
    for (;;) {
        ssize_t got = ::read(fd, data, size);
        if (got >= 0 || errno != EINTR) return got;
    }
}

// write(2) until every byte is written; false with errno on error.
bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t written = ::write(fd, data, size);
        if (written < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += written;
        size -= static_cast<std::size_t>(written);
    }
    return true;
}

// Compresses all that `in` holds into `out`, one input chunk at a time.
// Returns "" or the reason it failed; `out_name` is for the message.
std::string compress(int in, int out, const std::string& out_name) {
    std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> context(ZSTD_createCCtx(), &ZSTD_freeCCtx);
    if (!context) return "cannot create a zstd context";
    std::size_t status = ZSTD_CCtx_setParameter(context.get(), ZSTD_c_compressionLevel, 3);
    if (!ZSTD_isError(status)) status = ZSTD_CCtx_setParameter(context.get(), ZSTD_c_checksumFlag, 1);
    if (ZSTD_isError(status)) return fmt::format("zstd: {}", ZSTD_getErrorName(status));

    std::vector<char> input(ZSTD_CStreamInSize());
    std::vector<char> output(ZSTD_CStreamOutSize());
    for (;;) {
        ssize_t got = read_some(in, input.data(), input.size());
        if (got < 0) return fmt::format("cannot read it: {}", errno_text());
        // A read of 0 bytes is the end of the file: the frame is ended.
        bool last = got == 0;
        ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
        ZSTD_inBuffer chunk{input.data(), static_cast<std::size_t>(got), 0};
        bool done = false;
        while (!done) {
            ZSTD_outBuffer buffer{output.data(), output.size(), 0};
            std::size_t left = ZSTD_compressStream2(context.get(), &buffer, &chunk, mode);
            if (ZSTD_isError(left)) return fmt::format("zstd: {}", ZSTD_getErrorName(left));
            if (!write_all(out, output.data(), buffer.pos))
                return fmt::format("cannot write '{}': {}", out_name, errno_text());
            // The last chunk is done when the frame is flushed whole; any
            // other when zstd has taken all of it in.
            done = last ? left == 0 : chunk.pos == chunk.size;
        }
        if (last) return "";
    }
}

}  // namespace

std::string compress_file(const std::string& path) {
    // The compressed bytes go to a temporary name, are synced, and only then
    // renamed to the final name; the original is removed last. A crash at any
    // point leaves the original (and maybe a stray .tmp), or a complete .zst:
    // never a half-written .zst under the final name, never the data lost.
    std::string final_path = path + ".zst";
    std::string temp_path = final_path + ".tmp";
    auto failed = [&](const std::string& reason) { return fmt::format("cannot compress '{}': {}", path, reason); };

    Descriptor in{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) return failed(errno_text());
    Descriptor out{::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (out.fd < 0) return failed(fmt::format("cannot create '{}': {}", temp_path, errno_text()));

    std::string error = compress(in.fd, out.fd, temp_path);
    if (error.empty() && ::fsync(out.fd) != 0) error = fmt::format("cannot sync '{}': {}", temp_path, errno_text());
    // close(2) can be the first to report a failed write (NFS, quotas).
    int closed = ::close(out.fd);
    out.fd = -1;
    if (error.empty() && closed != 0) error = fmt::format("cannot close '{}': {}", temp_path, errno_text());
    if (error.empty() && ::rename(temp_path.c_str(), final_path.c_str()) != 0)
        error = fmt::format("cannot rename '{}' to '{}': {}", temp_path, final_path, errno_text());
    if (!error.empty()) {
        ::unlink(temp_path.c_str());
        return failed(error);
    }

    // The new name is made durable before the original goes away.
    auto slash = path.rfind('/');
    std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    Descriptor directory{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (directory.fd < 0 || ::fsync(directory.fd) != 0)
        return failed(fmt::format("cannot sync directory '{}': {}", dir, errno_text()));
    if (::unlink(path.c_str()) != 0) return failed(fmt::format("cannot remove it: {}", errno_text()));
    return "";
}

}  // namespace wsgather
