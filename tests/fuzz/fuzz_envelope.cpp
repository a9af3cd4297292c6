// Fuzzes the output line of one message (lib/envelope: JSON compaction, UTF-8
// repair, base64, timestamps) and checks what docs/cli.md promises of it,
// with nlohmann::json as the independent parser.
//
// Input: one control byte, then the payload.
//   bit 0     binary message (else text)
//   bit 1     --format raw (else jsonl)
//   bits 2-3  which feed name (names[] below)
//   bits 4-7  which seq/conn/time (presets[] below; 7 and up: from a hash)
#include "envelope.hpp"
#include "json_compact.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

using namespace wsgather;
using namespace std::chrono;
using json = nlohmann::ordered_json;  // ordered: the key order is checked too

namespace {

std::string_view payload_for_report;

[[noreturn]] void fail(const char* what, std::string_view line) {
    std::fprintf(stderr, "fuzz_envelope: %s\n  payload (%zu bytes)\n  line: %.*s\n", what, payload_for_report.size(),
                 static_cast<int>(line.size()), line.data());
    std::abort();
}

void require(bool ok, const char* what, std::string_view line) {
    if (!ok) fail(what, line);
}

struct Name {
    std::string_view raw;
    std::string_view decoded;  // what the feed field must read as
};

// Escapes, non-ASCII text and bytes that are not UTF-8, since names reach
// append_json_string as well.
constexpr Name names[] = {
    {"trades", "trades"},
    {"", ""},
    {"q\"b\\s/\n\t\x01\x7f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "q\"b\\s/\n\t\x01\x7f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"},
    {"bad\xff\xc0\xaf\xed\xa0\x80" "end",
     "bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" "end"},
};

// libstdc++'s system_clock counts nanoseconds in 64 bits: these bound the
// microseconds a time_point can hold (1677 to 2262).
constexpr std::int64_t min_us = std::numeric_limits<std::int64_t>::min() / 1000;
constexpr std::int64_t max_us = std::numeric_limits<std::int64_t>::max() / 1000;

struct Preset {
    std::uint64_t seq, conn;
    std::int64_t us;
};

constexpr Preset presets[] = {
    {1, 1, 1'700'000'000'123'456},
    {0, 0, 0},
    {std::numeric_limits<std::uint64_t>::max(), std::numeric_limits<std::uint64_t>::max(), -1},
    {42, 7, 951'782'400'000'000},  // 2000-02-29
    {3, 2, min_us},
    {5, 9, max_us},
    {10, 1, -1'000'000},
};

std::uint64_t fnv1a(const std::uint8_t* data, std::size_t size) {
    std::uint64_t h = 14695981039346656037u;
    for (std::size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211u;
    return h;
}

// The length of the well-formed UTF-8 sequence at text[i], or 0: decoded to
// a code point and judged by its value, unlike lib/utf8's byte ranges.
std::size_t utf8_length(std::string_view text, std::size_t i) {
    auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : (lead & 0xF8) == 0xF0 ? 4 : 0;
    if (length <= 1 || i + length > text.size()) return length == 1 ? 1 : 0;
    std::uint32_t cp = lead & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) {
        auto c = static_cast<unsigned char>(text[i + k]);
        if ((c & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (c & 0x3F);
    }
    constexpr std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return length;
}

// The text as the header of append_json_string describes it: every byte
// that does not start a well-formed sequence becomes U+FFFD.
std::string repaired(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        std::size_t length = utf8_length(text, i);
        if (length == 0) {
            out += "\xef\xbf\xbd";
            ++i;
        } else {
            out.append(text.substr(i, length));
            i += length;
        }
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (text.size() % 4 != 0) return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < text.size(); i += 4) {
        bool last = i + 4 == text.size();
        std::size_t padding = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
        if (text[i + 2] == '=' && text[i + 3] != '=') return std::nullopt;
        std::uint32_t group = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            std::size_t digit = k >= 4 - padding ? 0 : alphabet.find(text[i + k]);
            if (digit == std::string_view::npos) return std::nullopt;
            group = group << 6 | static_cast<std::uint32_t>(digit);
        }
        out += static_cast<char>(group >> 16);
        if (padding < 2) out += static_cast<char>(group >> 8 & 0xFF);
        if (padding < 1) out += static_cast<char>(group & 0xFF);
    }
    return out;
}

int depth_of(const json& value) {
    int deepest = 0;
    if (value.is_structured())
        for (const auto& child : value) deepest = std::max(deepest, depth_of(child));
    return value.is_structured() ? deepest + 1 : 0;
}

// Valid JSON without the whitespace between tokens.
std::string without_space(std::string_view text) {
    std::string out;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            continue;
        }
        out += c;
    }
    return out;
}

// "YYYY-MM-DDTHH:MM:SS.ffffffZ" read back; nothing unless well-formed.
std::optional<std::int64_t> timestamp_us(std::string_view ts) {
    if (ts.size() != 27 || ts[4] != '-' || ts[7] != '-' || ts[10] != 'T' || ts[13] != ':' || ts[16] != ':' ||
        ts[19] != '.' || ts[26] != 'Z')
        return std::nullopt;
    auto number = [&](std::size_t at, std::size_t width) -> std::optional<int> {
        int n = 0;
        for (std::size_t i = at; i < at + width; ++i) {
            if (ts[i] < '0' || ts[i] > '9') return std::nullopt;
            n = n * 10 + (ts[i] - '0');
        }
        return n;
    };
    auto y = number(0, 4), mo = number(5, 2), d = number(8, 2), h = number(11, 2), mi = number(14, 2),
         s = number(17, 2), f = number(20, 6);
    if (!y || !mo || !d || !h || !mi || !s || !f || *h > 23 || *mi > 59 || *s > 59) return std::nullopt;
    year_month_day date{year{*y}, month{unsigned(*mo)}, day{unsigned(*d)}};
    if (!date.ok()) return std::nullopt;
    auto t = sys_days(date) + hours(*h) + minutes(*mi) + seconds(*s) + microseconds(*f);
    return duration_cast<microseconds>(t.time_since_epoch()).count();
}

std::string line_of(Envelope& envelope, std::uint64_t seq, std::uint64_t conn, std::int64_t us, MessageKind kind,
                    std::string_view payload) {
    OutputBlock block;
    envelope.append_line(seq, conn, system_clock::time_point(microseconds(us)), kind, payload, block);
    std::string line;
    for (std::string_view piece : block.pieces()) line += piece;
    require(block.size() == line.size(), "block size differs from its pieces", line);
    return line;
}

void check_jsonl(const std::string& line, const Name& name, std::uint64_t seq, std::uint64_t conn, std::int64_t us,
                 MessageKind kind, std::string_view payload) {
    require(!line.empty() && line.back() == '\n', "line does not end in a newline", line);
    require(line.find('\n') == line.size() - 1, "newline inside the line", line);
    json object = json::parse(line.begin(), line.end() - 1, nullptr, false);
    require(!object.is_discarded(), "line is not JSON to nlohmann::json", line);
    require(object.is_object() && object.size() == 6, "line is not an object of six keys", line);
    const char* keys[] = {"feed", "seq", "conn", "ts", "type", "data"};
    std::size_t k = 0;
    for (const auto& item : object.items()) require(item.key() == keys[k++], "keys out of order", line);

    require(object["feed"] == json(std::string(name.decoded)), "feed field", line);
    require(object["seq"].is_number_unsigned() && object["seq"].get<std::uint64_t>() == seq, "seq field", line);
    require(object["conn"].is_number_unsigned() && object["conn"].get<std::uint64_t>() == conn, "conn field", line);
    require(object["ts"].is_string(), "ts is not a string", line);
    std::string ts = object["ts"];
    require(timestamp_us(ts) == us, "ts does not read back as the time received", line);
    std::string alone;
    append_timestamp(system_clock::time_point(microseconds(us)), alone);
    require(alone == ts, "append_timestamp differs from the line's ts", line);

    const json& data = object["data"];
    require(object["type"].is_string(), "type is not a string", line);
    const std::string& type = object["type"].get_ref<const std::string&>();
    if (kind == MessageKind::binary) {
        require(type == "binary" && data.is_string(), "binary message not typed binary", line);
        require(base64_decode(data.get<std::string>()) == std::string(payload), "base64 does not decode to the payload",
                line);
        return;
    }

    json parsed = json::parse(payload.begin(), payload.end(), nullptr, false);
    // nlohmann skips a leading byte order mark; RFC 8259 lets a parser do
    // either, and wsgather calls such text "text".
    bool bom = payload.starts_with("\xef\xbb\xbf");
    // nlohmann also reads a NUL byte as the end of the input, where RFC 8259
    // allows none outside strings, and none raw inside them.
    bool nul = payload.find('\0') != std::string_view::npos;
    bool is_json = !parsed.is_discarded() && !bom && !nul && depth_of(parsed) <= max_json_depth;
    if (is_json) {
        require(type == "json", "valid JSON payload not typed json", line);
        require(data == parsed, "data differs from the parsed payload", line);
        std::string tail = ",\"data\":" + without_space(payload) + "}\n";
        require(line.ends_with(tail), "data is not the payload without its whitespace", line);
    } else {
        require(type == "text", "payload that is not JSON not typed text", line);
        require(data.is_string() && data.get<std::string>() == repaired(payload), "text data differs from the payload",
                line);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::uint8_t control = data[0];
    std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
    payload_for_report = payload;

    auto kind = control & 1 ? MessageKind::binary : MessageKind::text;
    auto format = control & 2 ? Format::raw : Format::jsonl;
    const Name& name = names[(control >> 2) & 3];
    std::size_t which = control >> 4;
    std::uint64_t hash = fnv1a(data, size);
    Preset preset = which < std::size(presets)
                        ? presets[which]
                        : Preset{hash, hash >> 17, static_cast<std::int64_t>(hash % (max_us - min_us + 1)) + min_us};

    // A second line from the same envelope, up to 1.5 s away, tries its
    // cached date both within the second and across to another.
    std::int64_t step = static_cast<std::int64_t>(hash % 3'000'001) - 1'500'000;
    std::int64_t later = preset.us > max_us - step || preset.us < min_us - step ? preset.us - step : preset.us + step;

    Envelope envelope(format, name.raw);
    std::string first = line_of(envelope, preset.seq, preset.conn, preset.us, kind, payload);
    std::string second = line_of(envelope, preset.seq, preset.conn, later, kind, payload);
    if (format == Format::raw) {
        std::string expected = std::string(payload) + "\n";
        require(first == expected && second == expected, "raw line is not the payload and a newline", first);
        return 0;
    }
    check_jsonl(first, name, preset.seq, preset.conn, preset.us, kind, payload);
    // The second line may differ from the first in its time alone. The
    // first ,"ts":" is the key: the feed name before it has its quotes escaped.
    std::size_t at = first.find(",\"ts\":\"") + 7, width = 27;
    require(second.size() == first.size() && second.compare(0, at, first, 0, at) == 0 &&
                second.compare(at + width, std::string::npos, first, at + width, std::string::npos) == 0,
            "the second line differs from the first beyond its time", second);
    require(timestamp_us(std::string_view(second).substr(at, width)) == later,
            "ts of the second line does not read back as its time", second);
    return 0;
}
