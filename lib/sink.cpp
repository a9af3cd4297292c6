#include "sink.hpp"

#include "wait_writable.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

namespace wsgather {

Sink::Sink(const OutputOptions& options) {
    if (options.path.empty()) {
        fd_ = STDOUT_FILENO;
        owned_ = false;
        name_ = "standard output";
        return;
    }
    fd_ = ::open(options.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) throw SinkError(fmt::format("cannot open output file '{}': {}", options.path, std::strerror(errno)));
    owned_ = true;
    name_ = options.path;
}

Sink::~Sink() {
    if (owned_) ::close(fd_);
}

void Sink::cut_torn_line(std::span<const std::string_view> pieces, std::size_t next, std::size_t offset) {
    // Every write starts at the beginning of a line: the bytes written since
    // the last newline are the torn line.
    std::size_t torn = 0;
    for (std::size_t i = next + 1; i-- > 0;) {
        std::string_view written = i == next ? pieces[i].substr(0, offset) : pieces[i];
        auto newline = written.rfind('\n');
        if (newline != std::string_view::npos) {
            torn += written.size() - newline - 1;
            break;
        }
        torn += written.size();
    }
    struct stat file;
    if (torn == 0 || ::fstat(fd_, &file) != 0 || !S_ISREG(file.st_mode)) return;
    // A pipe or terminal keeps what it got; a file loses the torn line.
    off_t whole = file.st_size - static_cast<off_t>(std::min(torn, static_cast<std::size_t>(file.st_size)));
    [[maybe_unused]] int ignored = ::ftruncate(fd_, whole);
}

std::error_code Sink::write(std::span<const std::string_view> pieces) {
    iovec iov[IOV_MAX];
    std::size_t next = 0;    // first piece not yet handed to the kernel
    std::size_t offset = 0;  // bytes of pieces[next] already written
    while (next < pieces.size()) {
        int count = 0;
        for (std::size_t i = next; i < pieces.size() && count < IOV_MAX; ++i, ++count) {
            std::size_t skip = i == next ? offset : 0;
            iov[count].iov_base = const_cast<char*>(pieces[i].data() + skip);
            iov[count].iov_len = pieces[i].size() - skip;
        }
        ssize_t written = ::writev(fd_, iov, count);
        if (written < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                wait_writable(fd_);
                continue;
            }
            std::error_code error(errno, std::generic_category());
            cut_torn_line(pieces, next, offset);
            return error;
        }
        auto left = static_cast<std::size_t>(written);
        while (next < pieces.size() && left >= pieces[next].size() - offset) {
            left -= pieces[next].size() - offset;
            offset = 0;
            ++next;
        }
        offset += left;
    }
    return {};
}

}  // namespace wsgather
