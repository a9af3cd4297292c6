// The writer: drains the channel into the sinks on a thread of its own. Each
// batch it takes is formatted into output lines and written in large
// blocking writes, so a stalled reader stalls only the writer, never the
// feeds' timers and pings; when the channel is empty, what it has is written
// at once, so a slow feed's lines appear as they arrive. Every sink gets its
// lines before the next batch is taken: a slow sink holds up the channel,
// and through it the feeds, and no line is dropped.
#pragma once

#include "channel.hpp"
#include "compressor.hpp"
#include "sink.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace wsgather {

// Where lines go: sinks that take every line (-o, standard output), and with
// --output-per-feed one sink per feed, by the feed's name.
struct Outputs {
    // --rotate-compress; first, so that it outlives the sinks that feed it.
    std::unique_ptr<Compressor> compressor;
    std::vector<std::unique_ptr<Sink>> every_line;
    std::map<std::string, std::unique_ptr<Sink>, std::less<>> by_feed;
    // Set from any thread (SIGHUP); the writer reopens every file before it
    // writes its next lines.
    std::atomic<bool> reopen_requested{false};
};

struct WriteResult {
    std::error_code error;  // set when a sink failed; EPIPE when its reader went away
    std::string failed;     // that sink's name
    std::uint64_t lines = 0;
};

// Blocks until the channel is closed and drained, or the first write error.
// Once drained, every file is synced to disk.
WriteResult write_lines(Channel& channel, Outputs& outputs);

}  // namespace wsgather
