// skip_plain_json: the wide scan stops exactly where a byte-at-a-time scan would.
#include "utf8.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace wsgather;

namespace {

std::size_t skip_plain_json_slowly(std::string_view text, std::size_t pos) {
    for (; pos < text.size(); ++pos) {
        auto c = static_cast<unsigned char>(text[pos]);
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
    }
    return pos;
}

}  // namespace

TEST_CASE("skip_plain_json stops at the first quote, backslash, control or non-ASCII byte") {
    // Bytes on both sides of each boundary the scan tests.
    const unsigned char probes[] = {'"', '\\', 0x00, 0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xc3, 0xff, '!', '#', '[', ']'};
    for (std::size_t length = 0; length <= 40; ++length) {
        for (std::size_t at = 0; at < length; ++at) {
            for (unsigned char probe : probes) {
                std::string text(length, 'a');
                text[at] = static_cast<char>(probe);
                for (std::size_t from = 0; from <= at; from += 3) {
                    CAPTURE(length);
                    CAPTURE(at);
                    CAPTURE(static_cast<int>(probe));
                    CAPTURE(from);
                    REQUIRE(skip_plain_json(text, from) == skip_plain_json_slowly(text, from));
                }
            }
        }
    }
}

TEST_CASE("skip_plain_json runs to the end of plain text") {
    std::string text(1000, 'x');
    CHECK(skip_plain_json(text, 0) == 1000);
    CHECK(skip_plain_json(text, 993) == 1000);
    CHECK(skip_plain_json(text, 1000) == 1000);
}
