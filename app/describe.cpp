#include "describe.hpp"

#include "feed_url.hpp"
#include "redact.hpp"
#include "units.hpp"

namespace wsgather {
namespace {

// Unset optional values are null, which a config file reads as "the default".
Json file_or_null(const std::string& path) { return path.empty() ? Json() : Json(path); }

Json describe_feed(const FeedOptions& feed, const Settings& settings) {
    const ConnectOptions& c = feed.connect;
    Json headers = Json::object();
    for (const Header& h : c.headers)
        headers[h.name] = is_secret_header(h.name, c.secret_headers) ? "***" : h.value;
    // As given, so that a token a message takes from ${VAR} stays hidden.
    Json send = Json::array();
    if (const Setting* s = find(settings, "send")) {
        send = s->as_written.is_null() ? s->value : s->as_written;
        if (!send.is_array()) send = Json::array({send});
    }
    const ReconnectOptions& r = feed.reconnect;
    const TlsOptions& t = feed.tls;
    return Json{
        {"name", feed.spec.name},
        {"url", hide_password(feed.spec.url)},
        {"headers", headers},
        {"secret_headers", c.secret_headers},
        {"subprotocols", c.subprotocols},
        {"send", send},
        {"heartbeat", {{"text", c.heartbeat.empty() ? Json() : Json(c.heartbeat)},
                       {"interval", format_duration(c.heartbeat_interval)}}},
        {"connect_timeout", format_duration(c.connect_timeout)},
        {"ping_interval", format_duration(c.ping_interval)},
        {"ping_timeout", format_duration(c.ping_timeout)},
        {"max_message_size", format_size(c.max_message_size)},
        {"compress", c.compress},
        {"coalesce", c.coalesce_when_busy ? "auto" : format_duration(c.coalesce)},
        {"reconnect", {{"enabled", r.enabled},
                       {"min", format_duration(r.backoff_min)},
                       {"max", format_duration(r.backoff_max)},
                       {"max_retries", r.max_retries == 0 ? Json() : Json(r.max_retries)}}},
        {"tls", {{"ca_file", file_or_null(t.ca_file)},
                 {"cert", file_or_null(t.cert_file)},
                 {"key", file_or_null(t.key_file)},
                 {"insecure", t.insecure}}},
        {"proxy", c.proxy.empty() ? Json() : Json(hide_password(c.proxy))},
    };
}

}  // namespace

std::string describe_run(const Options& options, const std::vector<Settings>& feed_settings) {
    Json feeds = Json::array();
    for (std::size_t i = 0; i < options.feeds.size(); ++i)
        feeds.push_back(describe_feed(options.feeds[i], feed_settings.at(i)));
    const OutputOptions& o = options.output;
    const RunOptions& r = options.run;
    Json run{
        {"feeds", feeds},
        {"output", {{"format", o.format == Format::jsonl ? "jsonl" : "raw"},
                    {"file", o.files},
                    {"per_feed_dir", file_or_null(o.per_feed_dir)},
                    {"rotate", {{"size", o.rotate.size == 0 ? Json() : Json(format_size(o.rotate.size))},
                                {"interval", o.rotate.interval.count() == 0 ? Json()
                                                                            : Json(format_duration(o.rotate.interval))},
                                {"compress", o.rotate.compress}}},
                    {"buffer", o.buffer},
                    {"overflow", overflow_name(o.overflow)},
                    {"events", o.events}}},
        {"run", {{"count", r.count == 0 ? Json() : Json(r.count)},
                 {"duration", r.duration.count() == 0 ? Json() : Json(format_duration(r.duration))},
                 {"threads", r.threads},
                 {"stats", r.stats.count() == 0 ? Json() : Json(format_duration(r.stats))}}},
        {"log", options.verbosity == Verbosity::quiet     ? "quiet"
                : options.verbosity == Verbosity::verbose ? "verbose"
                                                          : "normal"},
    };
    return run.dump(2) + "\n";
}

}  // namespace wsgather
