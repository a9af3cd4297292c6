// UTF-8 checks shared by the JSON validator and the string escaper.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wsgather {

// Length of the well-formed UTF-8 sequence starting at text[pos] (1 to 4),
// or 0 when the bytes there are not well-formed UTF-8 (overlong forms,
// surrogates and code points past U+10FFFF included).
std::size_t utf8_sequence_length(std::string_view text, std::size_t pos);

// The first position from `pos` on whose byte a JSON string cannot hold as
// it is (a quote, a backslash, a control character or a non-ASCII byte), or
// text.size(). Payloads are mostly plain, so it looks at many bytes at a
// time: sixteen with SSE2 (every x86-64 has it), eight elsewhere.
inline std::size_t skip_plain_json(std::string_view text, std::size_t pos) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    for (; pos + 16 <= text.size(); pos += 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + pos));
        // A signed compare: bytes of 0x80 and more are negative, so "below
        // 0x20" takes in both the control characters and non-ASCII bytes.
        __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                       _mm_cmplt_epi8(v, space));
        if (int mask = _mm_movemask_epi8(special)) return pos + static_cast<std::size_t>(__builtin_ctz(mask));
    }
#else
    constexpr std::uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    for (; pos + 8 <= text.size(); pos += 8) {
        std::uint64_t w;
        std::memcpy(&w, text.data() + pos, sizeof w);
        std::uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
        // Per byte, the high bit ends up set for a zero byte in quote or
        // backslash, for a byte below 0x20, or for a byte of 0x80 or more.
        std::uint64_t special = ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) |
                                ((w - ones * 0x20) & ~w) | w;
        if (special & highs) break;
    }
#endif
    for (; pos < text.size(); ++pos) {
        auto c = static_cast<unsigned char>(text[pos]);
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
    }
    return pos;
}

}  // namespace wsgather
