// The writer: drains the channel into the sink on a thread of its own. Each
// batch it takes is formatted into output lines and written in large
// blocking writes, so a stalled reader stalls only the writer, never the
// feeds' timers and pings; when the channel is empty, what it has is written
// at once, so a slow feed's lines appear as they arrive.
#pragma once

#include "channel.hpp"
#include "sink.hpp"

#include <cstdint>
#include <system_error>

namespace wsgather {

struct WriteResult {
    std::error_code error;  // set when the sink failed; EPIPE when its reader went away
    std::uint64_t lines = 0;
};

// Blocks until the channel is closed and drained, or the first write error.
WriteResult write_lines(Channel& channel, Sink& sink);

}  // namespace wsgather
