// Fuzzes the whole command line (app/cli): the input, split at NUL bytes,
// is argv after "wsgather". parse_command_line must never throw, and its
// answer must be one of: a run with checked options; --help or --version
// text with status 0; or status 2 with a one-line error (docs/cli.md).
#include "cli.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <set>
#include <string>
#include <string_view>
#include <vector>

using namespace wsgather;

namespace {

std::vector<std::string> arguments;

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "fuzz_command_line: %s %.*s\n  argv:", what, static_cast<int>(detail.size()), detail.data());
    for (const std::string& a : arguments) std::fprintf(stderr, " '%s'", a.c_str());
    std::fprintf(stderr, "\n");
    std::abort();
}

void require(bool ok, const char* what, std::string_view detail = {}) {
    if (!ok) fail(what, detail);
}

// One line for stderr: no line break or other control character may
// reach the terminal from a value the user typed.
bool one_line(std::string_view text) {
    for (unsigned char c : text)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

void check_options(const Options& options) {
    require(!options.feeds.empty(), "a run without feeds");
    std::set<std::string> names;
    for (const FeedOptions& feed : options.feeds) {
        require(names.insert(feed.spec.name).second, "duplicate feed name:", feed.spec.name);
        const ConnectOptions& connect = feed.connect;
        require(connect.connect_timeout.count() > 0, "zero --connect-timeout");
        require(connect.ping_timeout.count() > 0, "zero --ping-timeout");
        require(connect.max_message_size > 0, "zero --max-message-size");
        require(connect.coalesce >= Duration(0) && connect.coalesce <= max_coalesce, "--coalesce out of range");
        require(connect.heartbeat_interval.count() > 0, "zero --heartbeat-interval");
        const ReconnectOptions& reconnect = feed.reconnect;
        require(reconnect.backoff_min.count() > 0 && reconnect.backoff_min <= reconnect.backoff_max,
                "backoff out of order");
        require(feed.tls.key_file.empty() || !feed.tls.cert_file.empty(), "--key without --cert");
    }
    require(options.output.buffer >= 1, "zero --buffer");
    require(options.run.threads >= 1 && options.run.threads <= max_threads, "--threads out of range");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    arguments.assign(1, "wsgather");
    std::string_view rest(reinterpret_cast<const char*>(data), size);
    while (!rest.empty()) {
        auto nul = rest.find('\0');
        arguments.emplace_back(rest.substr(0, nul));
        rest.remove_prefix(nul == std::string_view::npos ? rest.size() : nul + 1);
    }
    // A config file would be read from this machine's disk, where /dev/stdin
    // blocks and /dev/zero never ends: inputs that could name one are left
    // out (the file format has tests of its own, tests/unit/test_config.cpp).
    for (const std::string& a : arguments) {
        bool short_flags = a.size() > 1 && a[0] == '-' && a[1] != '-';
        if (a.starts_with("--config") || (short_flags && a.find('c') != std::string::npos)) return -1;
    }
    std::vector<const char*> argv;
    for (const std::string& a : arguments) argv.push_back(a.c_str());
    argv.push_back(nullptr);

    CommandLine result;
    try {
        result = parse_command_line(static_cast<int>(arguments.size()), argv.data());
    } catch (const std::exception& e) {
        fail("threw:", e.what());
    } catch (...) {
        fail("threw something that is not a std::exception");
    }

    if (result.options) {
        require(result.exit_status == 0 && result.out.empty() && result.error.empty(), "a run that also exits");
        check_options(*result.options);
    } else if (!result.out.empty()) {
        require(result.exit_status == 0, "--help or --version with a non-zero status");
        require(result.error.empty(), "--help or --version with an error:", result.error);
        require(result.out.back() == '\n', "--help or --version text without a final newline");
    } else {
        require(result.exit_status == 2, "an error without status 2:", result.error);
        require(!result.error.empty(), "status 2 without an error");
        require(one_line(result.error), "the error is not one line:", result.error);
    }
    return 0;
}
