#include "cli.hpp"

#include "feed_url.hpp"
#include "log.hpp"
#include "redact.hpp"
#include "units.hpp"

#include <CLI/CLI.hpp>
#include <boost/beast/core/string.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <set>

namespace wsgather {
namespace {

// Thrown for the first bad value; becomes exit status 2 and one line.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

constexpr const char* examples = R"(
Examples:
  wsgather ws://127.0.0.1:8080/trades ws://127.0.0.1:8080/quotes
  wsgather -n 10 btc=wss://feed.example/ws -s '{"op":"subscribe","channel":"btc"}'
  wsgather -t 1h -o trades.jsonl trades=wss://feed.example/trades
  wsgather ws://127.0.0.1:8080/trades | jq -c 'select(.type == "json") | .data'

Each message becomes one JSON line on stdout:
  {"feed":"trades","seq":1,"conn":1,"ts":"2026-11-22T10:00:00.123456Z","type":"json","data":{...}}
Logs go to stderr. Exit status: 0 clean stop, 1 a feed gave up or output failed, 2 bad arguments.
Durations: 250ms, 10s, 5m, 1h or plain seconds. Sizes: 512, 64KiB, 16MiB.
)";

// Every option value is taken as text and checked here, so that each error
// names the option and the value in the same words.
Duration duration_value(const std::string& option, const std::string& text, bool zero_allowed) {
    auto value = parse_duration(text);
    if (!value)
        throw UsageError(fmt::format("invalid duration '{}' for {}: use a number with ms, s, m or h, "
                                     "such as 250ms, 10s, 5m, 1h, or plain seconds", text, option));
    // 0.0001 would round to 0 and, where 0 means "off", switch a check off unasked.
    if (value->count() == 0 && text.find_first_of("123456789") != std::string::npos)
        throw UsageError(fmt::format("invalid duration '{}' for {}: less than 1ms", text, option));
    if (!zero_allowed && value->count() == 0)
        throw UsageError(fmt::format("invalid duration '{}' for {}: must be more than zero", text, option));
    return *value;
}

std::size_t size_value(const std::string& option, const std::string& text) {
    auto value = parse_size(text);
    if (!value)
        throw UsageError(fmt::format("invalid size '{}' for {}: use a number of bytes with an optional unit, "
                                     "such as 512, 64KiB, 16MiB", text, option));
    if (*value == 0) throw UsageError(fmt::format("invalid size '{}' for {}: must be more than zero", text, option));
    return *value;
}

std::uint64_t count_value(const std::string& option, const std::string& text) {
    auto value = parse_count(text);
    if (!value || *value == 0)
        throw UsageError(fmt::format("invalid number '{}' for {}: use a whole number of 1 or more", text, option));
    return *value;
}

// RFC 9110 token characters, the only ones allowed in a header name or a
// subprotocol.
bool is_token(std::string_view text) {
    if (text.empty()) return false;
    return std::all_of(text.begin(), text.end(), [](unsigned char c) {
        return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    });
}

Header header_value(const std::string& text, const std::vector<std::string>& secret_headers) {
    auto colon = text.find(':');
    if (colon == std::string::npos)
        throw UsageError(fmt::format("invalid header '{}' for --header: use \"Name: value\"", text));
    std::string_view name = std::string_view(text).substr(0, colon);
    std::string_view value = std::string_view(text).substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (!is_token(name))
        throw UsageError(fmt::format("invalid header '{}' for --header: '{}' is not a valid header name", text, name));
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
        throw UsageError(fmt::format("invalid header '{}' for --header: line breaks are not allowed in a value",
                                     printable_header(name, value, secret_headers)));
    // RFC 9110, 5.5: a field value holds no control character but tab.
    if (std::any_of(value.begin(), value.end(), [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }))
        throw UsageError(fmt::format("invalid header '{}' for --header: control characters are not allowed in a "
                                     "value", printable_header(name, value, secret_headers)));
    // These belong to the handshake itself; each has its own option or none.
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 6> reserved{{
        {"Sec-WebSocket-Protocol", "use --subprotocol"},
        {"Sec-WebSocket-Extensions", "use --compress"},
        {"Sec-WebSocket-Key", "wsgather sets it"},
        {"Sec-WebSocket-Version", "wsgather sets it"},
        {"Upgrade", "wsgather sets it"},
        {"Connection", "wsgather sets it"},
    }};
    for (auto [reserved_name, hint] : reserved)
        if (boost::beast::iequals(name, reserved_name))
            throw UsageError(fmt::format("invalid header '{}' for --header: {} cannot be set this way ({})", text,
                                         reserved_name, hint));
    constexpr std::string_view handshake_prefix = "Sec-WebSocket-";
    if (boost::beast::iequals(name.substr(0, handshake_prefix.size()), handshake_prefix))
        throw UsageError(fmt::format("invalid header '{}' for --header: Sec-WebSocket-* headers belong to the "
                                     "handshake", text));
    return Header{std::string(name), std::string(value)};
}

// The strings CLI11 collects, before they are checked.
struct RawArguments {
    std::vector<std::string> urls, headers, secret_headers, subprotocols, send;
    std::string connect_timeout = "10s", ping_interval = "20s", ping_timeout = "20s", max_message_size = "16MiB",
                coalesce = "auto";
    std::string backoff_min = "500ms", backoff_max = "30s", max_retries;
    std::string ca_file, cert_file, key_file;
    std::string format = "jsonl", output, buffer = "1024", count, duration, threads = "1";
    bool compress = false, no_reconnect = false, insecure = false, quiet = false, verbose = false;
    // Options without a default that were on the command line: an empty
    // value given is an error, not the option left out.
    std::set<std::string> given;
};

// Options whose absence means something (stdout, the system store, no limit).
constexpr std::array<const char*, 7> options_without_default{
    "--max-retries", "--ca-file", "--cert", "--key", "--output", "--count", "--duration"};

// A file name for `option`: given, it cannot be empty.
std::string file_value(const RawArguments& raw, const char* option, const std::string& text) {
    if (raw.given.contains(option) && text.empty())
        throw UsageError(fmt::format("invalid file '' for {}: give a file name", option));
    return text;
}

void define_options(CLI::App& app, RawArguments& raw) {
    // One value per occurrence: `-H "A: b" ws://x` must leave the URL alone.
    auto repeatable = [&](const char* names, std::vector<std::string>& into, const char* help) {
        app.add_option(names, into, help)->allow_extra_args(false)->type_name("TEXT");
    };
    auto single = [&](const char* names, std::string& into, const char* help, const char* type, bool show_default) {
        auto* option = app.add_option(names, into, help)->type_name(type);
        if (show_default) option->capture_default_str();
    };

    app.add_option("URL", raw.urls, "Feeds to subscribe to: ws:// or wss:// URLs, each optionally named NAME=URL")
        ->type_name("[NAME=]URL")
        ->allow_extra_args(true);

    repeatable("-H,--header", raw.headers, "Add a request header \"Name: value\" to every handshake (repeatable)");
    repeatable("--secret-header", raw.secret_headers,
               "Show the value of header NAME as *** in every log line (repeatable; Authorization, Cookie and "
               "their kin always are)");
    repeatable("--subprotocol", raw.subprotocols, "Offer a WebSocket subprotocol (repeatable)");
    repeatable("-s,--send", raw.send, "Send a text message after every connect and reconnect (repeatable, in order)");
    single("--connect-timeout", raw.connect_timeout, "Time allowed for TCP, TLS and the WebSocket handshake", "DUR", true);
    single("--ping-interval", raw.ping_interval, "Send a ping this often; 0 disables pings", "DUR", true);
    single("--ping-timeout", raw.ping_timeout, "Reconnect when no frame arrives this long after a ping", "DUR", true);
    single("--max-message-size", raw.max_message_size, "Larger messages fail the connection, which reconnects", "SIZE", true);
    app.add_flag("--compress", raw.compress, "Offer permessage-deflate compression");
    single("--coalesce", raw.coalesce,
           "Let a busy feed's messages gather this long before reading them; auto: 1ms above 10,000 messages/s",
           "auto|DUR", true);

    single("--backoff-min", raw.backoff_min, "Shortest wait before reconnecting", "DUR", true);
    single("--backoff-max", raw.backoff_max, "Longest wait before reconnecting", "DUR", true);
    single("--max-retries", raw.max_retries, "Give a feed up after N failed connection attempts in a row (default: never)", "N", false);
    app.add_flag("--no-reconnect", raw.no_reconnect, "End a feed at its first close or failure");

    single("--ca-file", raw.ca_file, "Trust the CA certificates in FILE (PEM) instead of the system store", "FILE", false);
    single("--cert", raw.cert_file, "Client certificate chain (PEM)", "FILE", false);
    single("--key", raw.key_file, "Private key for --cert (PEM)", "FILE", false);
    app.add_flag("-k,--insecure", raw.insecure, "Do not verify server certificates (prints a warning)");

    single("--format", raw.format, "Output format: jsonl or raw (payloads only)", "FORMAT", true);
    single("-o,--output", raw.output, "Append output to FILE instead of stdout", "FILE", false);
    single("--buffer", raw.buffer, "Messages held in memory before feeds are paused", "N", true);
    single("-n,--count", raw.count, "Stop after N messages in total", "N", false);
    single("-t,--duration", raw.duration, "Stop after DUR", "DUR", false);
    single("--threads", raw.threads, "I/O threads to spread the feeds over", "N", true);
    app.add_flag("-q,--quiet", raw.quiet, "Log errors only");
    app.add_flag("-v,--verbose", raw.verbose, "Log more detail");
    app.set_version_flag("-V,--version", "wsgather " WSGATHER_VERSION);
}

// CLI11 takes "--option=" with nothing after '=' as the option without its
// value, which it then takes from the next argument (a URL): here it becomes
// "--option" "" so that the empty value is checked like any other.
// CLI11 wants the arguments in reverse order.
std::vector<std::string> split_empty_values(int argc, const char* const* argv) {
    std::vector<std::string> args;
    bool options_over = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--") options_over = true;
        if (!options_over && arg.size() > 3 && arg.starts_with("--") && arg.ends_with('=') &&
            arg.find('=') == arg.size() - 1) {
            args.emplace_back(arg.substr(0, arg.size() - 1));
            args.emplace_back();
        } else {
            args.emplace_back(arg);
        }
    }
    std::reverse(args.begin(), args.end());
    return args;
}

Options check(const RawArguments& raw) {
    Options options;

    if (raw.urls.empty()) throw UsageError("no feed URL given (usage: wsgather [OPTIONS] [NAME=]URL...; see --help)");
    std::map<std::string, std::string> url_by_name;
    for (const std::string& argument : raw.urls) {
        FeedSpec spec;
        try {
            spec = parse_feed_argument(argument);
        } catch (const FeedUrlError& e) {
            throw UsageError(e.what());
        }
        auto [it, inserted] = url_by_name.emplace(spec.name, argument);
        if (!inserted)
            throw UsageError(fmt::format("duplicate feed name '{}' (for '{}' and '{}'): name each feed with NAME=URL",
                                         spec.name, hide_password(it->second), hide_password(argument)));
        options.feeds.push_back(std::move(spec));
    }

    ConnectOptions& connect = options.connect;
    for (const std::string& name : raw.secret_headers) {
        if (!is_token(name))
            throw UsageError(fmt::format("invalid header name '{}' for --secret-header: use a name alone, "
                                         "without ':' or a value", name));
        connect.secret_headers.push_back(name);
    }
    for (const std::string& h : raw.headers) connect.headers.push_back(header_value(h, connect.secret_headers));
    for (const std::string& p : raw.subprotocols) {
        if (!is_token(p)) throw UsageError(fmt::format("invalid subprotocol '{}' for --subprotocol: must be a single token", p));
        connect.subprotocols.push_back(p);
    }
    connect.send = raw.send;
    connect.connect_timeout = duration_value("--connect-timeout", raw.connect_timeout, false);
    connect.ping_interval = duration_value("--ping-interval", raw.ping_interval, true);
    connect.ping_timeout = duration_value("--ping-timeout", raw.ping_timeout, false);
    connect.max_message_size = size_value("--max-message-size", raw.max_message_size);
    connect.compress = raw.compress;
    connect.coalesce_when_busy = raw.coalesce == "auto";
    if (!connect.coalesce_when_busy) {
        auto wait = parse_duration(raw.coalesce);
        if (!wait || *wait > max_coalesce)
            throw UsageError(fmt::format("invalid value '{}' for --coalesce: use auto, 0 (never), or a duration "
                                         "up to {} such as 2ms", raw.coalesce, format_duration(max_coalesce)));
        connect.coalesce = *wait;
    }

    ReconnectOptions& reconnect = options.reconnect;
    reconnect.enabled = !raw.no_reconnect;
    // Zero would let a server that closes at once make wsgather spin.
    reconnect.backoff_min = duration_value("--backoff-min", raw.backoff_min, false);
    reconnect.backoff_max = duration_value("--backoff-max", raw.backoff_max, false);
    if (reconnect.backoff_min > reconnect.backoff_max)
        throw UsageError(fmt::format("--backoff-min {} is more than --backoff-max {}", raw.backoff_min, raw.backoff_max));
    if (raw.given.contains("--max-retries")) reconnect.max_retries = count_value("--max-retries", raw.max_retries);

    options.tls.ca_file = file_value(raw, "--ca-file", raw.ca_file);
    options.tls.cert_file = file_value(raw, "--cert", raw.cert_file);
    options.tls.key_file = file_value(raw, "--key", raw.key_file);
    options.tls.insecure = raw.insecure;
    if (!raw.key_file.empty() && raw.cert_file.empty())
        throw UsageError(fmt::format("--key '{}' needs a client certificate: add --cert FILE", raw.key_file));

    if (raw.format == "jsonl") options.output.format = Format::jsonl;
    else if (raw.format == "raw") options.output.format = Format::raw;
    else throw UsageError(fmt::format("invalid format '{}' for --format: use jsonl or raw", raw.format));
    options.output.path = file_value(raw, "--output", raw.output);
    options.output.buffer = count_value("--buffer", raw.buffer);

    if (raw.given.contains("--count")) options.run.count = count_value("--count", raw.count);
    if (raw.given.contains("--duration")) options.run.duration = duration_value("--duration", raw.duration, false);
    options.run.threads = count_value("--threads", raw.threads);
    if (options.run.threads > max_threads)
        throw UsageError(fmt::format("invalid number '{}' for --threads: at most {}", raw.threads, max_threads));

    if (raw.quiet && raw.verbose) throw UsageError("--quiet and --verbose cannot be used together");
    options.verbosity = raw.quiet ? Verbosity::quiet : raw.verbose ? Verbosity::verbose : Verbosity::normal;
    return options;
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
    CLI::App app("wsgather: subscribe to many WebSocket feeds at once and write every message as one JSON line.",
                 "wsgather");
    app.footer(examples);
    app.get_formatter()->column_width(32);
    RawArguments raw;
    define_options(app, raw);

    CommandLine result;
    try {
        app.parse(split_empty_values(argc, argv));
        for (const char* option : options_without_default)
            if (app.count(option) > 0) raw.given.insert(option);
        result.options = check(raw);
    } catch (const CLI::CallForHelp&) {
        result.out = app.help();
    } catch (const CLI::CallForVersion& e) {
        result.out = std::string(e.what()) + "\n";
    } catch (const CLI::ParseError& e) {
        result.exit_status = 2;
        result.error = log::one_line(fmt::format("{} (see --help)", e.what()));
    } catch (const UsageError& e) {
        result.exit_status = 2;
        result.error = log::one_line(e.what());
    }
    return result;
}

}  // namespace wsgather
