#include "cli.hpp"

#include "config.hpp"
#include "describe.hpp"
#include "feed_url.hpp"
#include "log.hpp"
#include "settings.hpp"
#include "sink.hpp"
#include "units.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <map>

namespace wsgather {
namespace {

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

// What CLI11 collects: each option's text as given, before it is checked.
// Values are kept by setting key (app/settings.hpp), as a config file's are.
struct Collected {
    std::vector<std::string> urls, headers, secret_headers;
    std::map<std::string, std::string> text;                // one value
    std::map<std::string, std::vector<std::string>> texts;  // repeatable
    std::string config;
    bool check = false;
    bool compress = false, no_reconnect = false, insecure = false, events = false, rotate_compress = false,
         quiet = false, verbose = false;
};

// An option that holds a value, and the setting it gives.
struct ValueOption {
    CLI::Option* option;
    std::string name;  // the long name, as errors quote it
    std::string key;
    bool repeatable;
};

std::vector<ValueOption> define_options(CLI::App& app, Collected& collected) {
    std::vector<ValueOption> options;
    // One value per occurrence: `-H "A: b" ws://x` must leave the URL alone.
    auto repeatable = [&](const char* names, const char* name, const char* key, const char* help,
                          const char* type = "TEXT") {
        auto* option = app.add_option(names, collected.texts[key], help)->allow_extra_args(false)->type_name(type);
        options.push_back({option, name, key, true});
    };
    // `shown_default` is the built-in default, for --help; the value itself
    // stays unset unless given, so that a config file's can apply.
    auto single = [&](const char* names, const char* name, const char* key, const char* help, const char* type,
                      const std::string& shown_default = {}) {
        auto* option = app.add_option(names, collected.text[key], help)->type_name(type);
        if (!shown_default.empty()) option->default_str(shown_default);
        options.push_back({option, name, key, false});
    };
    const ConnectOptions connect;
    const ReconnectOptions reconnect;
    const OutputOptions output;
    const RunOptions run;

    app.add_option("URL", collected.urls, "Feeds to subscribe to: ws:// or wss:// URLs, each optionally named NAME=URL")
        ->type_name("[NAME=]URL")
        ->allow_extra_args(true);
    app.add_option("-c,--config", collected.config,
                   "Read feeds and settings from FILE (JSON with comments; see docs/cli.md)")
        ->type_name("FILE");
    app.add_flag("--check", collected.check,
                 "Check the command line and config, print the feeds as they would run, and exit");

    app.add_option("-H,--header", collected.headers,
                   "Add a request header \"Name: value\" to every handshake (repeatable)")
        ->allow_extra_args(false)
        ->type_name("TEXT");
    app.add_option("--secret-header", collected.secret_headers,
                   "Show the value of header NAME as *** in every log line (repeatable; Authorization, Cookie and "
                   "their kin always are)")
        ->allow_extra_args(false)
        ->type_name("NAME");
    repeatable("--subprotocol", "--subprotocol", "subprotocols", "Offer a WebSocket subprotocol (repeatable)");
    repeatable("-s,--send", "--send", "send", "Send a text message after every connect and reconnect (repeatable, in order)");
    single("--heartbeat", "--heartbeat", "heartbeat.text",
           "Send this text message every --heartbeat-interval while connected (for APIs that want a text ping)", "TEXT");
    single("--heartbeat-interval", "--heartbeat-interval", "heartbeat.interval", "How often --heartbeat is sent",
           "DUR", format_duration(connect.heartbeat_interval));
    single("--connect-timeout", "--connect-timeout", "connect_timeout",
           "Time allowed for DNS, TCP, TLS and the WebSocket handshake", "DUR", format_duration(connect.connect_timeout));
    single("--ping-interval", "--ping-interval", "ping_interval", "Send a ping this often; 0 disables pings", "DUR",
           format_duration(connect.ping_interval));
    single("--ping-timeout", "--ping-timeout", "ping_timeout", "Reconnect when no frame arrives this long after a ping",
           "DUR", format_duration(connect.ping_timeout));
    single("--max-message-size", "--max-message-size", "max_message_size",
           "Larger messages fail the connection, which reconnects", "SIZE", format_size(connect.max_message_size));
    app.add_flag("--compress", collected.compress, "Offer permessage-deflate compression");
    single("--coalesce", "--coalesce", "coalesce",
           "Let a busy feed's messages gather this long before reading them; auto: 1ms above 10,000 messages/s",
           "auto|DUR", "auto");

    single("--backoff-min", "--backoff-min", "reconnect.min", "Shortest wait before reconnecting", "DUR",
           format_duration(reconnect.backoff_min));
    single("--backoff-max", "--backoff-max", "reconnect.max", "Longest wait before reconnecting", "DUR",
           format_duration(reconnect.backoff_max));
    single("--max-retries", "--max-retries", "reconnect.max_retries",
           "Give a feed up after N failed connection attempts in a row (default: never)", "N");
    app.add_flag("--no-reconnect", collected.no_reconnect, "End a feed at its first close or failure");

    single("--ca-file", "--ca-file", "tls.ca_file", "Trust the CA certificates in FILE (PEM) instead of the system store",
           "FILE");
    single("--cert", "--cert", "tls.cert", "Client certificate chain (PEM)", "FILE");
    single("--key", "--key", "tls.key", "Private key for --cert (PEM)", "FILE");
    app.add_flag("-k,--insecure", collected.insecure, "Do not verify server certificates (prints a warning)");
    single("--proxy", "--proxy", "proxy",
           "Connect through this HTTP proxy (CONNECT); direct: none (default: wss_proxy, https_proxy, ws_proxy, http_proxy, all_proxy, no_proxy)",
           "URL");

    single("--format", "--format", "output.format", "Output format: jsonl or raw (payloads only)", "FORMAT", "jsonl");
    repeatable("-o,--output", "--output", "output.file",
               "Append output to FILE instead of stdout (repeatable; - is stdout); every file gets every line",
               "FILE");
    single("--output-per-feed", "--output-per-feed", "output.per_feed_dir",
           "Append each feed's lines to DIR/<feed>.jsonl as well (DIR is made if missing)", "DIR");
    single("--rotate-size", "--rotate-size", "output.rotate.size",
           "Rotate an output file before it would grow past SIZE", "SIZE");
    single("--rotate-interval", "--rotate-interval", "output.rotate.interval",
           "Rotate output files at every multiple of DUR (UTC): 1h rotates on the hour", "DUR");
    app.add_flag("--rotate-compress", collected.rotate_compress, "Compress rotated files with zstd (FILE.zst)");
    single("--buffer", "--buffer", "output.buffer", "Messages held in memory before feeds are paused", "N",
           std::to_string(output.buffer));
    single("--overflow", "--overflow", "output.overflow",
           "When the buffer is full: block (pause the feeds), drop-oldest or drop-newest (keep reading, count drops)",
           "POLICY", "block");
    app.add_flag("--events", collected.events,
                 "Write connection events (connected, disconnected, retrying, gave_up) among the lines, as "
                 "\"type\":\"event\"");
    single("-n,--count", "--count", "run.count", "Stop after N messages in total", "N");
    single("-t,--duration", "--duration", "run.duration", "Stop after DUR", "DUR");
    single("--threads", "--threads", "run.threads", "I/O threads to spread the feeds over", "N",
           std::to_string(run.threads));
    single("--stats", "--stats", "run.stats",
           "Write a JSON line of per-feed counters to stderr every DUR, and a summary at the end", "DUR");
    app.add_flag("-q,--quiet", collected.quiet, "Log errors only");
    app.add_flag("-v,--verbose", collected.verbose, "Log more detail");
    app.set_version_flag("-V,--version", "wsgather " WSGATHER_VERSION);
    return options;
}

// The options given, as settings; options left out are not there at all.
Settings given_settings(const Collected& collected, const std::vector<ValueOption>& options) {
    Settings settings;
    for (const ValueOption& o : options) {
        if (o.option->count() == 0) continue;
        Origin origin{"", o.name};
        if (o.repeatable) settings[o.key] = Setting{Json(collected.texts.at(o.key)), origin};
        else settings[o.key] = Setting{Json(collected.text.at(o.key)), origin};
    }
    std::size_t order = 0;
    for (const std::string& text : collected.headers) {
        auto colon = text.find(':');
        if (colon == std::string::npos)
            throw UsageError(fmt::format("invalid header '{}' for --header: use \"Name: value\"", text));
        std::string_view name = std::string_view(text).substr(0, colon);
        std::string_view value = std::string_view(text).substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
        Setting& header = settings[item_key("headers", name)] =
            Setting{Json::array({name, value}), Origin{"", "--header"}, order++};
        header.as_written = text;
    }
    for (const std::string& name : collected.secret_headers)
        settings[item_key("secret_headers", name)] = Setting{Json(name), Origin{"", "--secret-header"}, order++};
    auto flag = [&](bool given, const char* key, bool value, const char* name) {
        if (given) settings[key] = Setting{Json(value), Origin{"", name}};
    };
    flag(collected.compress, "compress", true, "--compress");
    flag(collected.no_reconnect, "reconnect.enabled", false, "--no-reconnect");
    flag(collected.insecure, "tls.insecure", true, "--insecure");
    flag(collected.events, "output.events", true, "--events");
    flag(collected.rotate_compress, "output.rotate.compress", true, "--rotate-compress");
    if (collected.quiet && collected.verbose) throw UsageError("--quiet and --verbose cannot be used together");
    if (collected.quiet) settings["log"] = Setting{Json("quiet"), Origin{"", "--quiet"}};
    if (collected.verbose) settings["log"] = Setting{Json("verbose"), Origin{"", "--verbose"}};
    return settings;
}

bool is_feed_setting(const std::string& key) {
    if (key.starts_with("headers.") || key.starts_with("secret_headers.")) return true;
    for (const SettingKey& k : setting_keys())
        if (k.key == key) return k.per_feed;
    return false;
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

// The run as the command line and the config file give it together:
// built-in defaults < the file's "defaults" < the command line < a feed's
// own settings in the file. Command-line URLs are feeds with no settings of
// their own.
struct Assembled {
    Options options;
    std::vector<Settings> feed_settings;  // for --check, feed by feed
};

Assembled assemble(const Collected& collected, const std::vector<ValueOption>& value_options,
                   const CLI::App& app) {
    // The URLs first: an argument that is not a URL is the likeliest mistake.
    std::vector<std::pair<FeedSpec, std::string>> url_feeds;  // with the argument, for errors
    for (const std::string& argument : collected.urls) {
        try {
            url_feeds.emplace_back(parse_feed_argument(argument), argument);
        } catch (const FeedUrlError& e) {
            throw UsageError(e.what());
        }
    }
    Settings given = given_settings(collected, value_options);
    Settings command_line_feed, command_line_run;
    for (auto& [key, setting] : given) (is_feed_setting(key) ? command_line_feed : command_line_run)[key] = setting;

    bool has_config = app.count("--config") > 0;
    if (has_config) check_file_name(collected.config, Origin{"", "--config"});
    ConfigFile config;
    if (has_config) config = read_config(collected.config, process_environment);
    if (url_feeds.empty() && config.feeds.empty()) {
        if (has_config)
            throw UsageError(fmt::format("{}: no feeds: list them in \"feeds\", or give URLs on the command line",
                                         collected.config));
        throw UsageError("no feed URL given (usage: wsgather [OPTIONS] [NAME=]URL...; see --help)");
    }

    Assembled result;
    Settings run = config.run;
    override_settings(run, command_line_run);
    apply_run_settings(run, result.options);
    // The summary comes with --stats, and with -v.
    result.options.run.summary =
        result.options.run.stats.count() > 0 || result.options.verbosity == Verbosity::verbose;

    Settings base = config.defaults;
    override_settings(base, command_line_feed);
    std::map<std::string, std::string> feed_by_name;  // how each name was given, for errors
    auto add = [&](FeedSpec spec, Settings settings, std::string given_as) {
        auto [it, inserted] = feed_by_name.emplace(spec.name, given_as);
        if (!inserted)
            throw UsageError(fmt::format("duplicate feed name '{}' (for {} and {}): give each feed its own name{}",
                                         spec.name, it->second, given_as,
                                         has_config ? "" : " with NAME=URL"));
        result.options.feeds.push_back(feed_options(std::move(spec), settings));
        result.feed_settings.push_back(std::move(settings));
    };
    for (ConfigFeed& feed : config.feeds) {
        Settings settings = base;
        override_settings(settings, feed.settings);
        add(std::move(feed.spec), std::move(settings), fmt::format("{} in {}", feed.origin.where, feed.origin.file));
    }
    for (auto& [spec, argument] : url_feeds) add(std::move(spec), base, fmt::format("'{}'", hide_password(argument)));
    const auto& feeds = result.options.feeds;
    // Two feeds whose names differ only in characters a file name cannot
    // hold would write to one file.
    if (!result.options.output.per_feed_dir.empty()) {
        std::map<std::string, std::string> feed_by_path;
        for (const FeedOptions& feed : feeds) {
            std::string path = per_feed_path(result.options.output.per_feed_dir, feed.spec.name,
                                             result.options.output.format);
            auto [it, added] = feed_by_path.emplace(path, feed.spec.name);
            if (!added)
                throw UsageError(fmt::format("feeds '{}' and '{}' would both write to '{}' (--output-per-feed): "
                                             "give them other names", it->second, feed.spec.name, path));
            for (const std::string& file : result.options.output.files)
                if (same_file_name(file, path))
                    throw UsageError(fmt::format("output file '{}' is also feed '{}''s file (--output-per-feed): "
                                                 "its lines would be written twice", file, feed.spec.name));
        }
    }
    // In a file an interval may wait in "defaults" for the feeds that set a
    // text; on its own on the command line it is a mistake.
    if (command_line_feed.contains("heartbeat.interval") &&
        std::none_of(feeds.begin(), feeds.end(), [](const FeedOptions& f) { return !f.connect.heartbeat.empty(); }))
        throw UsageError("--heartbeat-interval needs a text to send: add --heartbeat TEXT");
    return result;
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
    CLI::App app("wsgather: subscribe to many WebSocket feeds at once and write every message as one JSON line.",
                 "wsgather");
    app.footer(examples);
    app.get_formatter()->column_width(32);
    Collected collected;
    std::vector<ValueOption> value_options = define_options(app, collected);

    CommandLine result;
    try {
        app.parse(split_empty_values(argc, argv));
        Assembled assembled = assemble(collected, value_options, app);
        if (collected.check) result.out = describe_run(assembled.options, assembled.feed_settings);
        else result.options = std::move(assembled.options);
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
