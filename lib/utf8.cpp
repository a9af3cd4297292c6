#include "utf8.hpp"

namespace wsgather {

std::size_t utf8_sequence_length(std::string_view text, std::size_t pos) {
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    auto continuation = [&](std::size_t i) { return i < text.size() && (byte(i) & 0xC0) == 0x80; };
    unsigned char lead = byte(pos);
    if (lead < 0x80) return 1;
    // The ranges follow Table 3-7 of the Unicode standard.
    if (lead >= 0xC2 && lead <= 0xDF) return continuation(pos + 1) ? 2 : 0;
    if (lead >= 0xE0 && lead <= 0xEF) {
        if (!continuation(pos + 1) || !continuation(pos + 2)) return 0;
        unsigned char second = byte(pos + 1);
        if (lead == 0xE0 && second < 0xA0) return 0;  // overlong
        if (lead == 0xED && second > 0x9F) return 0;  // surrogate
        return 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        if (!continuation(pos + 1) || !continuation(pos + 2) || !continuation(pos + 3)) return 0;
        unsigned char second = byte(pos + 1);
        if (lead == 0xF0 && second < 0x90) return 0;  // overlong
        if (lead == 0xF4 && second > 0x8F) return 0;  // past U+10FFFF
        return 4;
    }
    return 0;
}

}  // namespace wsgather
