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

// A name is non-empty, without spaces or control characters.
bool valid_feed_name(std::string_view name);

// A ws:// or wss:// URL alone (an argument without NAME=, or where a redirect
// leads); the name is the one derived from the URL.
FeedSpec parse_feed_url(std::string_view url);

// The URL of `spec` as sent: scheme, Host and target, without user info.
std::string request_url(const FeedSpec& spec);

// `text` with the password of the URL in it shown as "***":
// "a=ws://user:secret@host/" -> "a=ws://user:***@host/". It works on the text
// as written, so that a URL that does not parse is shown without it too.
std::string hide_password(std::string_view text);

}  // namespace wsgather
