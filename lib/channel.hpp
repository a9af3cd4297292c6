// The one bounded channel every feed sends its output lines into and the
// writer drains. Its capacity counts lines; a full channel suspends the
// sending feed, which then stops reading its socket, so TCP slows the server.
//
// Asio 1.26's channel discards buffered lines on close() (asio#1236), so the
// channel is never closed: the end of input is an empty line (real lines
// always end in '\n'), sent once every feed has stopped.
#pragma once

#include <boost/asio/experimental/channel.hpp>

#include <string>

namespace wsgather {

using LineChannel = boost::asio::experimental::channel<void(boost::system::error_code, std::string)>;

inline bool is_end_of_lines(const std::string& line) { return line.empty(); }

}  // namespace wsgather
