// The engine's whole configuration: plain data, filled in by the command line
// and the config file (app/) or by a test. The engine never sees argv.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wsgather {

using Duration = std::chrono::milliseconds;

// One feed: where it is and what it is called in the output.
struct FeedSpec {
    std::string name;         // unique; appears as "feed" in every line
    std::string url;          // as the user wrote it, for logs
    bool tls = false;         // wss://
    std::string host;         // for DNS, SNI and certificate checks; IPv6 without brackets
    std::string port;         // always set: explicit, or 80 / 443
    std::string host_header;  // Host: value, with brackets and non-default port
    std::string target;       // path and query, exactly as given; "/" when empty
    std::string userinfo;     // "user:password" from the URL, sent as Basic auth
};

struct Header {
    std::string name;
    std::string value;
};

struct ConnectOptions {
    std::vector<Header> headers;
    // Names of headers whose values logs show as "***" (--secret-header),
    // beside the standard credential headers (lib/redact.hpp).
    std::vector<std::string> secret_headers;
    std::vector<std::string> subprotocols;
    std::vector<std::string> send;  // text messages sent after every connect
    Duration connect_timeout{std::chrono::seconds(10)};
    Duration ping_interval{std::chrono::seconds(20)};  // zero: no pings
    Duration ping_timeout{std::chrono::seconds(20)};
    Duration close_timeout{std::chrono::seconds(2)};
    std::size_t max_message_size = 16u << 20;
    bool compress = false;
    // --coalesce: after a read that found data, how long the next one may
    // wait for more. Zero: read as soon as data arrives.
    Duration coalesce{0};
    // --coalesce auto, the default: `coalesce` is ignored, and a feed's reads
    // wait busy_coalesce while it is busy (lib/busy_feed.hpp), not otherwise.
    bool coalesce_when_busy = true;
    // An application-level keep-alive (--heartbeat): many exchange APIs want
    // a text "ping" now and then, which a WebSocket ping does not satisfy.
    std::string heartbeat;           // empty: none
    Duration heartbeat_interval{std::chrono::seconds(15)};
    // --proxy: the HTTP proxy every connection goes through, or proxy_direct
    // for none. Empty: the environment's (https_proxy and kin, lib/proxy.cpp).
    std::string proxy;
};

inline constexpr std::string_view proxy_direct = "direct";

// --coalesce beyond this is refused: each message may wait that long.
inline constexpr Duration max_coalesce{std::chrono::seconds(1)};
// What a busy feed's reads wait with --coalesce auto: the shortest wait
// that took W4 to the server's pace (docs/performance.md, "Coalescing reads").
inline constexpr Duration busy_coalesce{std::chrono::milliseconds(1)};

// Redirects one connection attempt follows before it fails.
inline constexpr int max_redirects = 5;

struct ReconnectOptions {
    bool enabled = true;
    Duration backoff_min{std::chrono::milliseconds(500)};
    Duration backoff_max{std::chrono::seconds(30)};
    std::uint64_t max_retries = 0;  // consecutive failed attempts; zero: never give up
};

struct TlsOptions {
    std::string ca_file;  // replaces the system CA store when set
    std::string cert_file;
    std::string key_file;
    bool insecure = false;
    // Feeds with equal TLS options share one context (lib/supervisor.cpp).
    bool operator==(const TlsOptions&) const = default;
    auto operator<=>(const TlsOptions&) const = default;
};

// One feed and everything it connects with. The command line gives every
// feed the same settings; a config file may set them feed by feed.
struct FeedOptions {
    FeedSpec spec;
    ConnectOptions connect;
    ReconnectOptions reconnect;
    TlsOptions tls;
};

enum class Format { jsonl, raw };

// --rotate-size, --rotate-interval, --rotate-compress: output files that
// wsgather rotates itself.
struct RotateOptions {
    std::uint64_t size = 0;  // rotate before a write would take a file past it; zero: never
    Duration interval{0};    // rotate at each multiple of it since the epoch (UTC); zero: never
    bool compress = false;   // zstd the rotated files
};

// --overflow: what a feed does with a message that finds the channel full.
enum class Overflow {
    block,        // wait for room: the socket is not read and TCP slows the server
    drop_oldest,  // make room by dropping the oldest message waiting in the channel
    drop_newest,  // drop the message that found no room
};

struct OutputOptions {
    Format format = Format::jsonl;
    // -o, repeatable; "-" is standard output. With no file and no
    // per_feed_dir, standard output.
    std::vector<std::string> files;
    std::string per_feed_dir;  // --output-per-feed: DIR/<feed>.jsonl, one per feed
    RotateOptions rotate;
    std::size_t buffer = 1024;  // channel capacity, in messages
    Overflow overflow = Overflow::block;
    bool events = false;  // --events: connection lifecycle records among the lines
};

struct RunOptions {
    std::uint64_t count = 0;  // zero: no limit
    Duration duration{0};     // zero: no limit
    std::size_t threads = 1;  // I/O threads the feeds are spread over
    Duration stats{0};        // --stats: a counters line on stderr this often; zero: none
    bool summary = false;     // a counters line at the end (--stats, -v)
    bool progress = false;    // the progress line on stderr (the app decides: lib/progress.hpp)
};

// --threads beyond this is refused: past the core count it only adds switches.
inline constexpr std::size_t max_threads = 256;

enum class Verbosity { quiet, normal, verbose };

struct Options {
    std::vector<FeedOptions> feeds;
    OutputOptions output;
    RunOptions run;
    Verbosity verbosity = Verbosity::normal;
};

}  // namespace wsgather
