// UTF-8 checks shared by the JSON validator and the string escaper.
#pragma once

#include <cstddef>
#include <string_view>

namespace wsgather {

// Length of the well-formed UTF-8 sequence starting at text[pos] (1 to 4),
// or 0 when the bytes there are not well-formed UTF-8 (overlong forms,
// surrogates and code points past U+10FFFF included).
std::size_t utf8_sequence_length(std::string_view text, std::size_t pos);

}  // namespace wsgather
