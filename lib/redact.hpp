// Header values that never reach a log line or an error message: the
// standard credential headers, and any header named with --secret-header.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wsgather {

// Authorization, Proxy-Authorization, Cookie and Set-Cookie, in any case, and
// the names in `secret_headers`.
bool is_secret_header(std::string_view name, const std::vector<std::string>& secret_headers);

// "Name: value" for a log line, with "***" for the value of a secret header.
std::string printable_header(std::string_view name, std::string_view value,
                             const std::vector<std::string>& secret_headers);

}  // namespace wsgather
