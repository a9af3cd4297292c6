#include "settings.hpp"

#include "log.hpp"
#include "proxy.hpp"
#include "redact.hpp"
#include "sink.hpp"
#include "units.hpp"

#include <boost/beast/core/string.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace wsgather {
namespace {

constexpr std::array<SettingKey, 35> keys{{
    {"headers", "--header", true},
    {"secret_headers", "--secret-header", true},
    {"subprotocols", "--subprotocol", true},
    {"send", "--send", true},
    {"heartbeat.text", "--heartbeat", true},
    {"heartbeat.interval", "--heartbeat-interval", true},
    {"connect_timeout", "--connect-timeout", true},
    {"ping_interval", "--ping-interval", true},
    {"ping_timeout", "--ping-timeout", true},
    {"max_message_size", "--max-message-size", true},
    {"compress", "--compress", true},
    {"coalesce", "--coalesce", true},
    {"reconnect.enabled", "--no-reconnect", true},
    {"reconnect.min", "--backoff-min", true},
    {"reconnect.max", "--backoff-max", true},
    {"reconnect.max_retries", "--max-retries", true},
    {"tls.ca_file", "--ca-file", true},
    {"tls.cert", "--cert", true},
    {"tls.key", "--key", true},
    {"tls.insecure", "--insecure", true},
    {"proxy", "--proxy", true},
    {"output.format", "--format", false},
    {"output.file", "--output", false},
    {"output.per_feed_dir", "--output-per-feed", false},
    {"output.rotate.size", "--rotate-size", false},
    {"output.rotate.interval", "--rotate-interval", false},
    {"output.rotate.compress", "--rotate-compress", false},
    {"output.buffer", "--buffer", false},
    {"output.overflow", "--overflow", false},
    {"output.events", "--events", false},
    {"run.count", "--count", false},
    {"run.duration", "--duration", false},
    {"run.threads", "--threads", false},
    {"run.stats", "--stats", false},
    {"log", "--quiet, --verbose", false},
}};

constexpr std::array overflow_policies{Overflow::block, Overflow::drop_oldest, Overflow::drop_newest};

// The value as the user wrote it, for an error message: text as is, other
// JSON as JSON.
std::string shown(const Json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string text_of(const Setting& s, std::string_view what) {
    if (!s.value.is_string())
        fail(s.origin, fmt::format("invalid {} {} for {}: expected a string", what, s.value.dump(), s.origin.where));
    return s.value.get<std::string>();
}

// Durations and sizes may be JSON numbers in a file: plain seconds, bytes.
std::string number_or_text(const Setting& s, std::string_view what, std::string_view example) {
    if (s.value.is_string()) return s.value.get<std::string>();
    if (s.value.is_number()) return s.value.dump();
    fail(s.origin, fmt::format("invalid {} {} for {}: use a string such as \"{}\" or a number", what, s.value.dump(),
                               s.origin.where, example));
}

Duration duration_of(const Setting& s, bool zero_allowed) {
    std::string text = number_or_text(s, "duration", "20s");
    auto value = parse_duration(text);
    if (!value)
        fail(s.origin, fmt::format("invalid duration '{}' for {}: use a number with ms, s, m or h, such as 250ms, "
                                   "10s, 5m, 1h, or plain seconds", text, s.origin.where));
    // 0.0001 would round to 0 and, where 0 means "off", switch a check off unasked.
    if (value->count() == 0 && text.find_first_of("123456789") != std::string::npos)
        fail(s.origin, fmt::format("invalid duration '{}' for {}: less than 1ms", text, s.origin.where));
    if (!zero_allowed && value->count() == 0)
        fail(s.origin, fmt::format("invalid duration '{}' for {}: must be more than zero", text, s.origin.where));
    return *value;
}

std::size_t size_of(const Setting& s) {
    std::string text = number_or_text(s, "size", "16MiB");
    auto value = parse_size(text);
    if (!value)
        fail(s.origin, fmt::format("invalid size '{}' for {}: use a number of bytes with an optional unit, such as "
                                   "512, 64KiB, 16MiB", text, s.origin.where));
    if (*value == 0) fail(s.origin, fmt::format("invalid size '{}' for {}: must be more than zero", text, s.origin.where));
    return *value;
}

std::uint64_t count_of(const Setting& s) {
    std::string text = number_or_text(s, "number", "10");
    auto value = parse_count(text);
    if (!value || *value == 0)
        fail(s.origin, fmt::format("invalid number '{}' for {}: use a whole number of 1 or more", text, s.origin.where));
    return *value;
}

bool bool_of(const Setting& s) {
    if (!s.value.is_boolean())
        fail(s.origin, fmt::format("invalid value {} for {}: use true or false", s.value.dump(), s.origin.where));
    return s.value.get<bool>();
}

std::string file_of(const Setting& s) {
    std::string path = text_of(s, "file");
    check_file_name(path, s.origin);
    return path;
}

// A list of strings; a file may give one string alone.
std::vector<std::string> texts_of(const Setting& s, std::string_view what) {
    if (s.value.is_string()) return {s.value.get<std::string>()};
    if (!s.value.is_array())
        fail(s.origin, fmt::format("invalid {} {} for {}: expected a list of strings", what, s.value.dump(),
                                   s.origin.where));
    std::vector<std::string> texts;
    for (const Json& item : s.value) {
        if (!item.is_string())
            fail(s.origin, fmt::format("invalid {} {} for {}: expected a string", what, item.dump(), s.origin.where));
        texts.push_back(item.get<std::string>());
    }
    return texts;
}

void check_header(const Setting& s, const std::vector<std::string>& secret_headers, Header& header) {
    const Json& pair = s.value;
    header.name = pair.at(0).get<std::string>();
    if (!pair.at(1).is_string())
        fail(s.origin, fmt::format("invalid header value {} for {}: expected a string", pair.at(1).dump(),
                                   s.origin.where));
    header.value = pair.at(1).get<std::string>();
    std::string_view name = header.name, value = header.value;
    std::string written = s.as_written.is_string() ? s.as_written.get<std::string>() : fmt::format("{}: {}", name, value);
    if (!is_token(name))
        fail(s.origin, fmt::format("invalid header '{}' for {}: '{}' is not a valid header name", written,
                                   s.origin.where, name));
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
        fail(s.origin, fmt::format("invalid header '{}' for {}: line breaks are not allowed in a value",
                                   printable_header(name, value, secret_headers), s.origin.where));
    // RFC 9110, 5.5: a field value holds no control character but tab.
    if (std::any_of(value.begin(), value.end(), [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }))
        fail(s.origin, fmt::format("invalid header '{}' for {}: control characters are not allowed in a value",
                                   printable_header(name, value, secret_headers), s.origin.where));
    // These belong to the handshake itself; each has its own setting or none.
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
            fail(s.origin, fmt::format("invalid header '{}' for {}: {} cannot be set this way ({})",
                                       printable_header(name, value, secret_headers), s.origin.where, reserved_name,
                                       hint));
    constexpr std::string_view handshake_prefix = "Sec-WebSocket-";
    if (boost::beast::iequals(name.substr(0, handshake_prefix.size()), handshake_prefix))
        fail(s.origin, fmt::format("invalid header '{}' for {}: Sec-WebSocket-* headers belong to the handshake",
                                   printable_header(name, value, secret_headers), s.origin.where));
}

}  // namespace

void check_file_name(std::string_view path, const Origin& origin) {
    if (path.empty()) fail(origin, fmt::format("invalid file '' for {}: give a file name", origin.where));
}

void fail(const Origin& origin, const std::string& message) {
    if (origin.file.empty()) throw UsageError(message);
    throw UsageError(fmt::format("{}: {}", origin.file, message));
}

std::span<const SettingKey> setting_keys() { return keys; }

std::string item_key(std::string_view list, std::string_view name) {
    std::string key = fmt::format("{}.", list);
    for (char c : name) key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return key;
}

const Setting* find(const Settings& settings, std::string_view key) {
    auto it = settings.find(key);
    // null in a file means the built-in default, as if the key were absent.
    return it == settings.end() || it->second.value.is_null() ? nullptr : &it->second;
}

bool is_token(std::string_view text) {
    if (text.empty()) return false;
    return std::all_of(text.begin(), text.end(), [](unsigned char c) {
        return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    });
}

void override_settings(Settings& into, const Settings& over) {
    std::size_t after = 0;
    for (const auto& [key, setting] : into) after = std::max(after, setting.order + 1);
    for (const auto& [key, setting] : over) {
        auto [it, added] = into.try_emplace(key, setting);
        if (added) {
            it->second.order += after;
        } else {
            std::size_t place = it->second.order;
            it->second = setting;
            it->second.order = place;
        }
    }
}

FeedOptions feed_options(FeedSpec spec, const Settings& settings) {
    FeedOptions feed;
    feed.spec = std::move(spec);
    ConnectOptions& connect = feed.connect;

    // Each list in the order it was given, layer after layer.
    auto items = [&settings](std::string_view list) {
        std::vector<const Setting*> found;
        std::string prefix = fmt::format("{}.", list);
        for (auto it = settings.lower_bound(prefix); it != settings.end() && it->first.starts_with(prefix); ++it)
            found.push_back(&it->second);
        std::sort(found.begin(), found.end(), [](const Setting* a, const Setting* b) { return a->order < b->order; });
        return found;
    };
    for (const Setting* s : items("secret_headers")) {
        std::string name = text_of(*s, "header name");
        if (!is_token(name))
            fail(s->origin, fmt::format("invalid header name '{}' for {}: use a name alone, without ':' or a value",
                                        name, s->origin.where));
        connect.secret_headers.push_back(name);
    }
    for (const Setting* s : items("headers"))
        if (!s->value.at(1).is_null()) check_header(*s, connect.secret_headers, connect.headers.emplace_back());

    if (auto* s = find(settings, "subprotocols"))
        for (const std::string& p : texts_of(*s, "subprotocol")) {
            if (!is_token(p))
                fail(s->origin, fmt::format("invalid subprotocol '{}' for {}: must be a single token", p,
                                            s->origin.where));
            connect.subprotocols.push_back(p);
        }
    // A file may give a message as JSON, which is sent as compact JSON text.
    if (auto* s = find(settings, "send")) {
        const Json& messages = s->value;
        if (messages.is_array())
            for (const Json& m : messages) connect.send.push_back(m.is_string() ? m.get<std::string>() : m.dump());
        else connect.send.push_back(shown(messages));
    }
    if (auto* s = find(settings, "heartbeat.text")) {
        connect.heartbeat = text_of(*s, "heartbeat");
        if (connect.heartbeat.empty())
            fail(s->origin, fmt::format("invalid heartbeat '' for {}: give the text to send", s->origin.where));
    }
    if (auto* s = find(settings, "heartbeat.interval")) connect.heartbeat_interval = duration_of(*s, false);
    if (auto* s = find(settings, "connect_timeout")) connect.connect_timeout = duration_of(*s, false);
    if (auto* s = find(settings, "ping_interval")) connect.ping_interval = duration_of(*s, true);
    if (auto* s = find(settings, "ping_timeout")) connect.ping_timeout = duration_of(*s, false);
    if (auto* s = find(settings, "max_message_size")) connect.max_message_size = size_of(*s);
    if (auto* s = find(settings, "compress")) connect.compress = bool_of(*s);
    if (auto* s = find(settings, "coalesce")) {
        std::string text = number_or_text(*s, "value", "auto");
        connect.coalesce_when_busy = text == "auto";
        if (!connect.coalesce_when_busy) {
            auto wait = parse_duration(text);
            if (!wait || *wait > max_coalesce)
                fail(s->origin, fmt::format("invalid value '{}' for {}: use auto, 0 (never), or a duration up to {} "
                                            "such as 2ms", text, s->origin.where, format_duration(max_coalesce)));
            connect.coalesce = *wait;
        }
    }

    ReconnectOptions& reconnect = feed.reconnect;
    if (auto* s = find(settings, "reconnect.enabled")) reconnect.enabled = bool_of(*s);
    // Zero would let a server that closes at once make wsgather spin.
    const Setting* min = find(settings, "reconnect.min");
    const Setting* max = find(settings, "reconnect.max");
    if (min) reconnect.backoff_min = duration_of(*min, false);
    if (max) reconnect.backoff_max = duration_of(*max, false);
    if (reconnect.backoff_min > reconnect.backoff_max) {
        const Setting& named = min ? *min : *max;
        fail(named.origin, fmt::format("{} {} is more than {} {}", min ? min->origin.where : "the shortest backoff",
                                       format_duration(reconnect.backoff_min),
                                       max ? max->origin.where : "the longest backoff",
                                       format_duration(reconnect.backoff_max)));
    }
    if (auto* s = find(settings, "reconnect.max_retries"))
        reconnect.max_retries = count_of(*s);

    TlsOptions& tls = feed.tls;
    if (auto* s = find(settings, "tls.ca_file")) tls.ca_file = file_of(*s);
    if (auto* s = find(settings, "tls.cert")) tls.cert_file = file_of(*s);
    if (auto* s = find(settings, "tls.key")) {
        tls.key_file = file_of(*s);
        if (tls.cert_file.empty())
            fail(s->origin, fmt::format("{} '{}' needs a client certificate: add {}", s->origin.where, tls.key_file,
                                        s->origin.file.empty() ? "--cert FILE" : "tls.cert"));
    }
    if (auto* s = find(settings, "tls.insecure")) tls.insecure = bool_of(*s);

    if (auto* s = find(settings, "proxy")) {
        connect.proxy = text_of(*s, "proxy");
        if (connect.proxy != proxy_direct) {
            try {
                parse_proxy_url(connect.proxy);
            } catch (const ProxyUrlError& e) {
                fail(s->origin, fmt::format("{}: {}", s->origin.where, e.what()));
            }
        }
    }
    return feed;
}

std::string_view overflow_name(Overflow policy) {
    switch (policy) {
    case Overflow::block: return "block";
    case Overflow::drop_oldest: return "drop-oldest";
    case Overflow::drop_newest: return "drop-newest";
    }
    return "?";
}

void apply_run_settings(const Settings& settings, Options& options) {
    if (auto* s = find(settings, "output.format")) {
        std::string format = text_of(*s, "format");
        if (format == "jsonl") options.output.format = Format::jsonl;
        else if (format == "raw") options.output.format = Format::raw;
        else fail(s->origin, fmt::format("invalid format '{}' for {}: use jsonl or raw", format, s->origin.where));
    }
    OutputOptions& output = options.output;
    if (auto* s = find(settings, "output.file")) {
        for (const std::string& file : texts_of(*s, "file")) {
            check_file_name(file, s->origin);
            auto same = std::find_if(output.files.begin(), output.files.end(),
                                     [&](const std::string& given) { return same_file_name(given, file); });
            if (same != output.files.end())
                fail(s->origin, fmt::format("output file '{}' given twice for {}{}: its lines would be written twice",
                                            file, s->origin.where, *same == file ? "" : fmt::format(" (as '{}')", *same)));
            output.files.push_back(file);
        }
    }
    if (auto* s = find(settings, "output.per_feed_dir")) output.per_feed_dir = file_of(*s);
    const Setting* rotate_size = find(settings, "output.rotate.size");
    const Setting* rotate_interval = find(settings, "output.rotate.interval");
    if (rotate_size) output.rotate.size = size_of(*rotate_size);
    if (rotate_interval) output.rotate.interval = duration_of(*rotate_interval, false);
    if (auto* s = find(settings, "output.rotate.compress")) {
        output.rotate.compress = bool_of(*s);
        if (output.rotate.compress && !rotate_size && !rotate_interval)
            fail(s->origin, fmt::format("{} needs rotation to compress: add {}", s->origin.where,
                                        s->origin.file.empty() ? "--rotate-size or --rotate-interval"
                                                               : "output.rotate.size or output.rotate.interval"));
    }
    bool any_file = output.per_feed_dir.size() > 0 ||
                    std::any_of(output.files.begin(), output.files.end(),
                                [](const std::string& f) { return f != standard_output_path; });
    for (const Setting* s : {rotate_size, rotate_interval})
        if (s && !any_file)
            fail(s->origin, fmt::format("{} rotates output files, and there is none: add {}", s->origin.where,
                                        s->origin.file.empty() ? "-o FILE or --output-per-feed DIR"
                                                               : "output.file or output.per_feed_dir"));
    if (auto* s = find(settings, "output.buffer")) options.output.buffer = count_of(*s);
    if (auto* s = find(settings, "output.overflow")) {
        std::string word = text_of(*s, "overflow policy");
        auto known = std::find_if(overflow_policies.begin(), overflow_policies.end(),
                                  [&](Overflow policy) { return overflow_name(policy) == word; });
        if (known == overflow_policies.end())
            fail(s->origin, fmt::format("invalid overflow policy '{}' for {}: use block, drop-oldest or drop-newest",
                                        word, s->origin.where));
        output.overflow = *known;
    }
    if (auto* s = find(settings, "output.events")) {
        options.output.events = bool_of(*s);
        // Raw output is payloads only: a record there could pass for one.
        if (options.output.events && options.output.format == Format::raw)
            fail(s->origin, fmt::format("{} needs the jsonl format: raw output holds payloads only",
                                        s->origin.where));
    }
    if (auto* s = find(settings, "run.count")) options.run.count = count_of(*s);
    if (auto* s = find(settings, "run.duration"))
        options.run.duration = duration_of(*s, false);
    if (auto* s = find(settings, "run.threads")) {
        options.run.threads = count_of(*s);
        if (options.run.threads > max_threads)
            fail(s->origin, fmt::format("invalid number '{}' for {}: at most {}", shown(s->value), s->origin.where,
                                        max_threads));
    }
    if (auto* s = find(settings, "run.stats")) options.run.stats = duration_of(*s, false);
    if (auto* s = find(settings, "log")) {
        std::string level = text_of(*s, "log level");
        if (level == "quiet") options.verbosity = Verbosity::quiet;
        else if (level == "normal") options.verbosity = Verbosity::normal;
        else if (level == "verbose") options.verbosity = Verbosity::verbose;
        else fail(s->origin, fmt::format("invalid log level '{}' for {}: use quiet, normal or verbose", level,
                                         s->origin.where));
    }
}

}  // namespace wsgather
