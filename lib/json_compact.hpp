// Validates a JSON text (RFC 8259) and copies it without the whitespace
// between tokens, so a pretty-printed document becomes one line. Tokens are
// copied byte for byte: numbers keep their digits, strings their escapes.
// A text with no such whitespace can be checked without being copied.
#pragma once

#include <string>
#include <string_view>

namespace wsgather {

// Nesting deeper than this is treated as "not JSON" rather than risking the stack.
inline constexpr int max_json_depth = 512;

// Appends the compacted text to `out` and returns true when `text` is one
// valid JSON value; otherwise leaves `out` as it was and returns false.
bool append_compact_json(std::string_view text, std::string& out);

enum class JsonShape {
    invalid,  // not one valid JSON value
    compact,  // valid, and already as append_compact_json would write it
    spaced,   // valid, with whitespace between tokens
};

// Validates without copying.
JsonShape check_json(std::string_view text);

}  // namespace wsgather
