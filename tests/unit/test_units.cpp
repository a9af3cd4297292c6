// Durations, sizes and counts as the command line reads and the logs print them.
#include "units.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

using namespace wsgather;
using namespace std::chrono_literals;

namespace {

// nullopt prints as "-1" in doctest output, which keeps failures readable.
long long ms(std::string_view text) {
    auto value = parse_duration(text);
    return value ? static_cast<long long>(value->count()) : -1;
}

}  // namespace

TEST_CASE("duration accepts milliseconds, seconds, minutes and hours") {
    CHECK(parse_duration("250ms") == Duration(250));
    CHECK(parse_duration("10s") == Duration(10'000));
    CHECK(parse_duration("5m") == Duration(300'000));
    CHECK(parse_duration("1h") == Duration(3'600'000));
    CHECK(parse_duration("0ms") == Duration(0));
}

TEST_CASE("a fraction too small for a double is 0, and a number too large for one is refused") {
    std::string tiny = "0." + std::string(400, '0') + "36079143";  // found by fuzz_units
    CHECK(parse_duration(tiny + "h") == Duration(0));
    CHECK(parse_size(tiny + "KiB") == std::size_t{0});
    CHECK_FALSE(parse_duration("1" + std::string(400, '0') + "ms"));
}

TEST_CASE("duration reads a plain number as seconds, fractions included") {
    CHECK(parse_duration("1") == Duration(1000));
    CHECK(parse_duration("1.5") == Duration(1500));
    CHECK(parse_duration("0") == Duration(0));
    CHECK(parse_duration("0.25") == Duration(250));
    CHECK(parse_duration("1.5m") == Duration(90'000));
    CHECK(parse_duration("0.5ms") == Duration(1));  // rounded half away from zero
    // The number is plain decimal, so both "1." and ".5" are numbers.
    CHECK(parse_duration("1.") == Duration(1000));
    CHECK(parse_duration(".5") == Duration(500));
}

TEST_CASE("duration rounds fractions to the nearest millisecond") {
    // 0.0005 s is half a millisecond: std::round takes it up to 1 ms;
    // 0.0004 s is less than half and becomes 0.
    CHECK(ms("0.0005") == 1);
    CHECK(ms("0.0004") == 0);
    CHECK(ms("0.0015") == 2);
    CHECK(ms("2.0004") == 2000);
}

TEST_CASE("duration rejects text that is not a plain number with a known unit") {
    for (const char* bad : {"", "abc", "-1", "+1", "1x", "10 s", "1e3", " 5", "5ms ", "5 ", "s", "ms", ".", "1.5.5",
                            "0x10", "1S", "1H", "5sec", "1,5", "inf", "nan", "1h1m"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_duration(bad).has_value());
    }
}

TEST_CASE("duration rejects values past one year") {
    CHECK(parse_duration("8760h") == Duration(8760LL * 3'600'000));  // exactly 365 days
    CHECK_FALSE(parse_duration("8761h").has_value());
    CHECK_FALSE(parse_duration("31536001").has_value());  // a year and one second
    CHECK_FALSE(parse_duration("99999999999999999999h").has_value());
    // Too many digits for a double: from_chars reports it out of range.
    CHECK_FALSE(parse_duration(std::string(400, '9')).has_value());
}

TEST_CASE("size reads plain numbers as bytes") {
    CHECK(parse_size("512") == std::size_t{512});
    CHECK(parse_size("0") == std::size_t{0});
    CHECK(parse_size("512B") == std::size_t{512});
    CHECK(parse_size("512b") == std::size_t{512});
}

TEST_CASE("size units are powers of 1024 or of 1000, in any case") {
    CHECK(parse_size("64KiB") == std::size_t{65536});
    CHECK(parse_size("16MiB") == std::size_t{16u << 20});
    CHECK(parse_size("2GiB") == std::size_t{2ull << 30});
    CHECK(parse_size("2gib") == std::size_t{2ull << 30});
    CHECK(parse_size("1k") == std::size_t{1024});
    CHECK(parse_size("1K") == std::size_t{1024});
    CHECK(parse_size("3M") == std::size_t{3u << 20});
    CHECK(parse_size("1g") == std::size_t{1u << 30});
    CHECK(parse_size("1KB") == std::size_t{1000});
    CHECK(parse_size("1kb") == std::size_t{1000});
    CHECK(parse_size("5MB") == std::size_t{5'000'000});
    CHECK(parse_size("2GB") == std::size_t{2'000'000'000});
    CHECK(parse_size("64kIb") == std::size_t{65536});
    CHECK(parse_size("1mIB") == std::size_t{1u << 20});
}

TEST_CASE("size accepts a fraction only when it makes whole bytes") {
    CHECK(parse_size("1.5KiB") == std::size_t{1536});
    CHECK(parse_size("0.5k") == std::size_t{512});
    CHECK(parse_size("1.5MB") == std::size_t{1'500'000});
    CHECK(parse_size("2.0") == std::size_t{2});
    CHECK_FALSE(parse_size("1.5B").has_value());
    CHECK_FALSE(parse_size("1.5").has_value());
    CHECK_FALSE(parse_size("1.1KiB").has_value());  // 1126.4 bytes
}

// Regression: 1.001 * 1000 is 1000.9999999999999 in binary floating point;
// a decimal fraction that is a whole number of bytes must be accepted.
TEST_CASE("size accepts decimal fractions of KB, MB and GB that are whole bytes") {
    CHECK(parse_size("1.001KB") == std::size_t{1001});
    CHECK(parse_size("1.001MB") == std::size_t{1'001'000});
    CHECK(parse_size("0.067GB") == std::size_t{67'000'000});
}

TEST_CASE("size rejects unknown units, signs, spaces and absurd values") {
    for (const char* bad : {"", "-1", "+1", "MiB", "10XB", "10 KiB", " 10", "10KiB ", "1e3", "1Ki", "1KIBB", "1TiB",
                            "1TB", "0x10", "abc"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_size(bad).has_value());
    }
    CHECK(parse_size("1000000000000000") == std::size_t{1'000'000'000'000'000});  // 1e15 is the largest
    CHECK_FALSE(parse_size("1000000000000001").has_value());
    CHECK_FALSE(parse_size("1000000GiB").has_value());
}

TEST_CASE("count accepts whole non-negative decimal numbers only") {
    CHECK(parse_count("0") == std::uint64_t{0});
    CHECK(parse_count("1") == std::uint64_t{1});
    CHECK(parse_count("007") == std::uint64_t{7});
    CHECK(parse_count("18446744073709551615") == std::uint64_t{18446744073709551615ull});
    for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.0", "1e3", "x", "1x", "0x10", "18446744073709551616"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_count(bad).has_value());
    }
}

TEST_CASE("duration formatting picks the largest whole unit") {
    CHECK(format_duration(Duration(0)) == "0ms");
    CHECK(format_duration(Duration(1)) == "1ms");
    CHECK(format_duration(Duration(250)) == "250ms");
    CHECK(format_duration(Duration(999)) == "999ms");
    CHECK(format_duration(Duration(1000)) == "1s");
    CHECK(format_duration(Duration(1500)) == "1.5s");
    CHECK(format_duration(Duration(10'000)) == "10s");
    CHECK(format_duration(Duration(90'000)) == "90s");
    CHECK(format_duration(Duration(120'000)) == "2m");
    CHECK(format_duration(Duration(3'600'000)) == "1h");
    CHECK(format_duration(Duration(5'400'000)) == "90m");
}

TEST_CASE("formatted durations read back as the same duration for typical values") {
    for (long long value : {0LL, 1LL, 250LL, 500LL, 999LL, 1000LL, 1500LL, 2500LL, 10'000LL, 20'000LL, 30'000LL,
                            61'500LL, 90'000LL, 300'000LL, 3'600'000LL, 7'200'000LL}) {
        Duration d(value);
        CAPTURE(value);
        std::string text = format_duration(d);
        CAPTURE(text);
        CHECK(parse_duration(text) == d);
    }
}

// Regression: durations in logs once lost digits ("1.23s" for 1234 ms)
// and switched to exponents ("1.23e+03s"), which do not read back.
TEST_CASE("every formatted duration reads back as the same duration") {
    for (long long value : {1234LL, 12'345LL, 100'500LL, 1'234'567LL, 3'599'999LL}) {
        Duration d(value);
        CAPTURE(value);
        std::string text = format_duration(d);
        CAPTURE(text);
        CHECK(parse_duration(text) == d);
    }
}

TEST_CASE("size formatting picks the largest binary unit that divides exactly") {
    CHECK(format_size(0) == "0B");
    CHECK(format_size(512) == "512B");
    CHECK(format_size(1000) == "1000B");
    CHECK(format_size(1024) == "1KiB");
    CHECK(format_size(1536) == "1536B");
    CHECK(format_size(65536) == "64KiB");
    CHECK(format_size(16u << 20) == "16MiB");
    CHECK(format_size(std::size_t{3} << 30) == "3GiB");
    CHECK(format_size((std::size_t{1} << 30) + 1024) == "1048577KiB");
}

TEST_CASE("formatted sizes read back as the same size") {
    for (std::size_t value : {std::size_t{0}, std::size_t{1}, std::size_t{512}, std::size_t{1000}, std::size_t{1024},
                              std::size_t{1536}, std::size_t{65536}, std::size_t{16u << 20},
                              std::size_t{5} << 30, std::size_t{123'456'789}}) {
        CAPTURE(value);
        CHECK(parse_size(format_size(value)) == value);
    }
}
