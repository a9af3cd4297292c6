// Human-friendly durations ("250ms", "10s", "5m", "1h", "1.5") and sizes
// ("512", "64KiB", "16MiB"), parsed and printed the same way everywhere.
#pragma once

#include "options.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace wsgather {

// Plain numbers are seconds. Fractions are allowed and rounded to the
// millisecond. Returns nothing for anything else, including negative values.
std::optional<Duration> parse_duration(std::string_view text);

// Plain numbers are bytes. Units: B, KiB, MiB, GiB (powers of 1024) and
// KB, MB, GB (powers of 1000), case-insensitive; K, M, G mean KiB, MiB, GiB.
std::optional<std::size_t> parse_size(std::string_view text);

// Whole non-negative decimal integer, no sign, no spaces.
std::optional<std::uint64_t> parse_count(std::string_view text);

std::string format_duration(Duration d);  // "500ms", "1.5s", "2m", "1h"; parse_duration reads it back
std::string format_size(std::size_t bytes);  // "512B", "64KiB", "16MiB"

}  // namespace wsgather
