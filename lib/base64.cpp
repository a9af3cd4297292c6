#include "base64.hpp"

namespace wsgather {

void append_base64(std::string_view bytes, std::string& out) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[i]); };
    std::size_t start = out.size();
    out.resize(start + (bytes.size() + 2) / 3 * 4);
    char* dst = out.data() + start;
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        unsigned group = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        *dst++ = alphabet[(group >> 18) & 63];
        *dst++ = alphabet[(group >> 12) & 63];
        *dst++ = alphabet[(group >> 6) & 63];
        *dst++ = alphabet[group & 63];
    }
    std::size_t rest = bytes.size() - i;
    if (rest == 0) return;
    unsigned group = byte(i) << 16;
    if (rest == 2) group |= byte(i + 1) << 8;
    *dst++ = alphabet[(group >> 18) & 63];
    *dst++ = alphabet[(group >> 12) & 63];
    *dst++ = rest == 2 ? alphabet[(group >> 6) & 63] : '=';
    *dst++ = '=';
}

}  // namespace wsgather
