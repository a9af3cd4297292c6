// Fuzzes the DUR, SIZE and N parsers of lib/units against a plain model of
// what docs/cli.md accepts, and checks that what format_duration and
// format_size print reads back as the same value.
//
// Input: the text given to all three parsers; its first eight bytes are
// also a duration and a size to format.
#include "units.hpp"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

using namespace wsgather;

namespace {

constexpr std::int64_t year_ms = 365LL * 24 * 3'600'000;  // the longest duration parse_duration takes
constexpr std::uint64_t max_size = 1'000'000'000'000'000;  // the largest size parse_size takes

[[noreturn]] void fail(const char* what, std::string_view text) {
    std::fprintf(stderr, "fuzz_units: %s\n  text: '%.*s'\n", what, static_cast<int>(text.size()), text.data());
    std::abort();
}

void require(bool ok, const char* what, std::string_view text) {
    if (!ok) fail(what, text);
}

// The text split as docs/cli.md writes a value: plain decimal digits with
// at most one '.', then a unit.
struct Split {
    std::string_view number, unit;
    bool has_dot = false;
};

std::optional<Split> split(std::string_view text) {
    std::size_t end = 0, dots = 0, digits = 0;
    for (; end < text.size(); ++end) {
        if (std::isdigit(static_cast<unsigned char>(text[end]))) ++digits;
        else if (text[end] == '.' && dots == 0) ++dots;
        else break;
    }
    if (digits == 0) return std::nullopt;
    return Split{text.substr(0, end), text.substr(end), dots == 1};
}

// A whole number of at most 15 digits, exactly; longer ones are left to
// the floating-point path.
std::optional<std::uint64_t> small_integer(const Split& s) {
    if (s.has_dot || s.number.size() > 15) return std::nullopt;
    std::uint64_t n = 0;
    for (char c : s.number) n = n * 10 + static_cast<std::uint64_t>(c - '0');
    return n;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

void check_duration(std::string_view text) {
    auto value = parse_duration(text);
    auto s = split(text);
    std::int64_t unit_ms = 0;
    if (s) {
        if (s->unit.empty() || s->unit == "s") unit_ms = 1000;
        else if (s->unit == "ms") unit_ms = 1;
        else if (s->unit == "m") unit_ms = 60'000;
        else if (s->unit == "h") unit_ms = 3'600'000;
    }
    if (unit_ms == 0) {
        require(!value, "parse_duration took a value outside its grammar", text);
        return;
    }
    if (auto n = small_integer(*s)) {
        bool fits = *n <= static_cast<std::uint64_t>(year_ms / unit_ms);
        require(value.has_value() == fits, "parse_duration: whole number taken or refused wrongly", text);
        if (fits) require(value->count() == static_cast<std::int64_t>(*n) * unit_ms, "parse_duration: wrong value", text);
    } else {
        std::string number(s->number);
        double ms = std::round(std::strtod(number.c_str(), nullptr) * static_cast<double>(unit_ms));
        bool fits = ms <= static_cast<double>(year_ms);
        require(value.has_value() == fits, "parse_duration: fraction taken or refused wrongly", text);
        if (fits) require(static_cast<double>(value->count()) == ms, "parse_duration: fraction not rounded to the ms", text);
    }
    if (value) {
        require(value->count() >= 0 && value->count() <= year_ms, "parse_duration out of range", text);
        require(parse_duration(format_duration(*value)) == value, "format_duration does not read back", text);
    }
}

void check_size(std::string_view text) {
    auto value = parse_size(text);
    auto s = split(text);
    double unit_bytes = 0;
    if (s) {
        std::string unit = lower(s->unit);
        if (unit.empty() || unit == "b") unit_bytes = 1;
        else if (unit == "k" || unit == "kib") unit_bytes = 1024;
        else if (unit == "m" || unit == "mib") unit_bytes = 1024.0 * 1024;
        else if (unit == "g" || unit == "gib") unit_bytes = 1024.0 * 1024 * 1024;
        else if (unit == "kb") unit_bytes = 1e3;
        else if (unit == "mb") unit_bytes = 1e6;
        else if (unit == "gb") unit_bytes = 1e9;
    }
    if (unit_bytes == 0) {
        require(!value, "parse_size took a value outside its grammar", text);
        return;
    }
    if (auto n = small_integer(*s)) {
        auto unit = static_cast<std::uint64_t>(unit_bytes);
        bool fits = *n <= max_size / unit;
        require(value.has_value() == fits, "parse_size: whole number taken or refused wrongly", text);
        if (fits) require(*value == *n * unit, "parse_size: wrong value", text);
    }
    if (value) {
        require(*value <= max_size, "parse_size out of range", text);
        require(parse_size(format_size(*value)) == value, "format_size does not read back", text);
    }
}

void check_count(std::string_view text) {
    auto value = parse_count(text);
    bool digits = !text.empty();
    std::uint64_t n = 0;
    bool overflow = false;
    for (char c : text) {
        if (c < '0' || c > '9') {
            digits = false;
            break;
        }
        auto digit = static_cast<std::uint64_t>(c - '0');
        if (n > (UINT64_MAX - digit) / 10) overflow = true;
        else n = n * 10 + digit;
    }
    require(value.has_value() == (digits && !overflow), "parse_count taken or refused wrongly", text);
    if (value) require(*value == n, "parse_count: wrong value", text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    check_duration(text);
    check_size(text);
    check_count(text);

    std::uint64_t bits = 0;
    std::memcpy(&bits, data, std::min<std::size_t>(size, sizeof bits));
    Duration d(static_cast<Duration::rep>(bits % (year_ms + 1)));
    require(parse_duration(format_duration(d)) == d, "format_duration does not read back", format_duration(d));
    std::size_t bytes = bits % (max_size + 1);
    require(parse_size(format_size(bytes)) == bytes, "format_size does not read back", format_size(bytes));
    return 0;
}
