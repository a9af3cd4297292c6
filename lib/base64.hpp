// Standard base64 (RFC 4648, with padding): binary messages in the output
// and Basic credentials in the handshake.
#pragma once

#include <string>
#include <string_view>

namespace wsgather {

void append_base64(std::string_view bytes, std::string& out);

}  // namespace wsgather
