#include "units.hpp"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace wsgather {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

// Splits "12.5ms" into 12.5 and "ms". The number must be plain decimal:
// no sign, no exponent, no hex, no spaces.
bool split_number(std::string_view text, double& number, std::string_view& unit) {
    std::size_t end = 0;
    bool digits = false, dot = false;
    while (end < text.size()) {
        char c = text[end];
        if (c >= '0' && c <= '9') digits = true;
        else if (c == '.' && !dot) dot = true;
        else break;
        ++end;
    }
    if (!digits) return false;
    std::string_view digits_text = text.substr(0, end);
    auto [ptr, ec] = std::from_chars(digits_text.data(), digits_text.data() + end, number);
    // Out of range with no digit but 0 before the point: a fraction too
    // small for a double (0.000...1), which is 0 here, not an error.
    if (ec == std::errc::result_out_of_range && ptr == digits_text.data() + end &&
        digits_text.substr(0, digits_text.find('.')).find_first_not_of('0') == std::string_view::npos) {
        number = 0;
        ec = std::errc{};
    }
    if (ec != std::errc{} || ptr != text.data() + end || !std::isfinite(number)) return false;
    unit = text.substr(end);
    return true;
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
    double number = 0;
    std::string_view unit;
    if (!split_number(text, number, unit)) return std::nullopt;
    double ms_per_unit = 0;
    if (unit.empty() || unit == "s") ms_per_unit = 1000;
    else if (unit == "ms") ms_per_unit = 1;
    else if (unit == "m") ms_per_unit = 60'000;
    else if (unit == "h") ms_per_unit = 3'600'000;
    else return std::nullopt;
    double ms = std::round(number * ms_per_unit);
    // A year is far past any sensible timeout and keeps every later sum safe.
    if (ms > 365.0 * 24 * 3'600'000) return std::nullopt;
    return Duration(static_cast<Duration::rep>(ms));
}

std::optional<std::size_t> parse_size(std::string_view text) {
    double number = 0;
    std::string_view unit;
    if (!split_number(text, number, unit)) return std::nullopt;
    struct Unit { std::string_view name; double bytes; };
    static constexpr std::array units{
        Unit{"", 1}, Unit{"b", 1},
        Unit{"k", 1024.0}, Unit{"kib", 1024.0}, Unit{"kb", 1e3},
        Unit{"m", 1048576.0}, Unit{"mib", 1048576.0}, Unit{"mb", 1e6},
        Unit{"g", 1073741824.0}, Unit{"gib", 1073741824.0}, Unit{"gb", 1e9},
    };
    for (const Unit& u : units) {
        if (!iequals(unit, u.name)) continue;
        // "1.001KB" is 1000.9999999999999 in binary floating point: round,
        // and refuse only what is really a fraction of a byte.
        double bytes = number * u.bytes;
        double whole = std::round(bytes);
        if (std::abs(bytes - whole) > 1e-6 || whole > 1e15) return std::nullopt;
        return static_cast<std::size_t>(whole);
    }
    return std::nullopt;
}

std::optional<std::uint64_t> parse_count(std::string_view text) {
    std::uint64_t value = 0;
    if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
    return value;
}

std::string format_duration(Duration d) {
    auto ms = d.count();
    if (ms % 3'600'000 == 0 && ms != 0) return fmt::format("{}h", ms / 3'600'000);
    if (ms % 60'000 == 0 && ms != 0) return fmt::format("{}m", ms / 60'000);
    if (ms % 1000 == 0 && ms != 0) return fmt::format("{}s", ms / 1000);
    if (ms < 1000) return fmt::format("{}ms", ms);
    // Exact, so that what is printed reads back as the same duration: 1.234s, 100.5s.
    std::string text = fmt::format("{}.{:03}", ms / 1000, ms % 1000);
    while (text.back() == '0') text.pop_back();
    return text + "s";
}

std::string format_size(std::size_t bytes) {
    if (bytes != 0 && bytes % (1u << 30) == 0) return fmt::format("{}GiB", bytes >> 30);
    if (bytes != 0 && bytes % (1u << 20) == 0) return fmt::format("{}MiB", bytes >> 20);
    if (bytes != 0 && bytes % (1u << 10) == 0) return fmt::format("{}KiB", bytes >> 10);
    return fmt::format("{}B", bytes);
}

}  // namespace wsgather
