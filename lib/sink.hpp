// Where output lines go: standard output or a file opened for appending.
// Writes are write(2) calls on a descriptor whose flags are never changed,
// so a terminal, pipe or file behaves as it always does; one inherited in
// non-blocking mode is waited on, never failed.
#pragma once

#include "options.hpp"

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace wsgather {

struct SinkError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Sink {
public:
    explicit Sink(const OutputOptions& options);  // throws SinkError naming the path
    ~Sink();
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;

    // Writes every piece in order, in as few system calls as it can. The
    // pieces hold whole lines. When a write fails part-way, a file is cut
    // back to its last whole line, so that it never ends in a torn one.
    std::error_code write(std::span<const std::string_view> pieces);

    const std::string& name() const { return name_; }

private:
    // After a failed write; `next` and `offset` tell how far the pieces got.
    void cut_torn_line(std::span<const std::string_view> pieces, std::size_t next, std::size_t offset);

    int fd_;
    bool owned_;
    std::string name_;
};

}  // namespace wsgather
