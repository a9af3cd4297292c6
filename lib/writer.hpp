// Drains the line channel into the sink. While lines are queued it gathers
// them into one large write; when the channel is empty it writes what it has
// at once, so a slow feed's lines appear as they arrive.
#pragma once

#include "channel.hpp"
#include "sink.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <system_error>

namespace wsgather {

struct WriteResult {
    std::error_code error;  // set when the sink failed; EPIPE when its reader went away
    std::uint64_t lines = 0;
};

// Returns at the end-of-lines marker, or at the first write error. The
// blocking writes run on `blocking_executor` (a thread of their own), so a
// stalled reader stalls only the writer, never the feeds' timers and pings.
boost::asio::awaitable<WriteResult> write_lines(LineChannel& lines, Sink& sink,
                                                boost::asio::any_io_executor blocking_executor);

}  // namespace wsgather
