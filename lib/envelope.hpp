// Builds the output line for one received message:
//   {"feed":"<name>","seq":<n>,"conn":<c>,"ts":"<RFC 3339 UTC, microseconds>",
//    "type":"json"|"text"|"binary","data":<payload>}
// or, in raw format, the payload itself; every line ends with '\n'. An
// event's line has no "seq" (seq counts messages, so that a gap in it is a
// lost message) and "type":"event".
#pragma once

#include "options.hpp"
#include "output_block.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace wsgather {

// An event (--events) is a connection's lifecycle record, not a message:
// its payload is the compact JSON object for "data".
enum class MessageKind { text, binary, event };

// Appends `text` as a JSON string literal, quotes included. Bytes that are
// not well-formed UTF-8 become U+FFFD, so the output is always valid JSON.
void append_json_string(std::string_view text, std::string& out);

// "2026-11-22T10:00:00.123456Z"
void append_timestamp(std::chrono::system_clock::time_point t, std::string& out);

// One per feed: it holds the feed's name already encoded, and the formatted
// date of the last second it saw, since consecutive messages share it. Only
// the writer thread uses it once the feed has made it.
class Envelope {
public:
    Envelope(Format format, std::string_view feed_name);

    // Appends the message's whole line, '\n' included, to `out`. A large
    // payload that goes out unchanged is referenced, not copied: it must
    // outlive the block's contents.
    void append_line(std::uint64_t seq, std::uint64_t conn, std::chrono::system_clock::time_point received,
                     MessageKind kind, std::string_view payload, OutputBlock& out);

    const std::string& name() const { return name_; }

private:
    void append_time(std::chrono::system_clock::time_point t, std::string& out);

    Format format_;
    std::string name_;
    std::string head_;  // {"feed":"<name>","seq":
    std::int64_t cached_second_ = std::numeric_limits<std::int64_t>::min();  // nothing cached yet
    char cached_date_[19] = {};  // YYYY-MM-DDTHH:MM:SS
};

}  // namespace wsgather
