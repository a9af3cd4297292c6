// Turns one "[NAME=]URL" argument into a FeedSpec.
#pragma once

#include "options.hpp"

#include <stdexcept>
#include <string_view>

namespace wsgather {

// The message names the bad argument; the command line reports it as is.
struct FeedUrlError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// "trades=wss://host/path?q" -> name "trades". Without NAME= the name is the
// URL's host, its port when one is written, and its path: "host:9000/path".
FeedSpec parse_feed_argument(std::string_view argument);

}  // namespace wsgather
