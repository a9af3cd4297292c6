#include "feed.hpp"

#include "base64.hpp"
#include "feed_url.hpp"
#include "log.hpp"
#include "proxy_tunnel.hpp"
#include "read_ahead.hpp"
#include "redact.hpp"
#include "task_group.hpp"
#include "tls.hpp"
#include "units.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cctype>
#include <tuple>

namespace wsgather {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using boost::system::error_code;
using std::chrono::steady_clock;

using PlainWs = websocket::stream<ReadAheadSocket>;
using SecureWs = websocket::stream<TlsStream>;

template <class Ws> constexpr bool is_secure = std::is_same_v<Ws, SecureWs>;

// The layer that reads the socket, under TLS if there is TLS.
template <class Ws> ReadAheadSocket& socket_reader(Ws& ws) {
    if constexpr (is_secure<Ws>) return ws.next_layer().next_layer();
    else return ws.next_layer();
}

// A server may ask for any delay; past an hour, wsgather retries anyway.
constexpr Duration longest_retry_after = std::chrono::hours(1);

// While a feed drops messages (--overflow), one "dropped" record a second
// says how many: enough to see the gaps without adding to the flood.
constexpr auto drop_report_interval = std::chrono::seconds(1);

// A message buffer that grew for one large message is given back once that
// message is written, so an idle feed holds little memory.
constexpr std::size_t kept_buffer_bytes = 1u << 20;

// What a feed's message buffer starts with. Beast would prepare 1,536 bytes
// before every read, which for ten thousand idle feeds is 15 MB of nothing.
constexpr std::size_t first_read_bytes = 128;

// Clears the stop hook when a step that installed it ends, so stop() never
// reaches into a coroutine frame that is gone.
class StopHook {
public:
    StopHook(std::function<void()>& slot, std::function<void()> hook) : slot_(slot) { slot_ = std::move(hook); }
    ~StopHook() { slot_ = nullptr; }
    StopHook(const StopHook&) = delete;
    StopHook& operator=(const StopHook&) = delete;

private:
    std::function<void()>& slot_;
};

Duration remaining(steady_clock::time_point deadline) {
    auto left = std::chrono::duration_cast<Duration>(deadline - steady_clock::now());
    return std::max(left, Duration(1));
}

std::string describe_close(const websocket::close_reason& close) {
    std::string text = fmt::format("code {}", static_cast<unsigned>(close.code));
    if (!close.reason.empty()) text += fmt::format(" \"{}\"", std::string_view(close.reason.data(), close.reason.size()));
    return text;
}

// Names of the extensions in a Sec-WebSocket-Extensions value, parameters dropped.
std::vector<std::string_view> extension_names(std::string_view value) {
    std::vector<std::string_view> names;
    while (!value.empty()) {
        auto comma = value.find(',');
        std::string_view item = value.substr(0, comma);
        value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
        item = item.substr(0, item.find(';'));
        while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
        if (!item.empty()) names.push_back(item);
    }
    return names;
}

// An --events record's "data": {"event":"<name>"<fields>}, where each field
// is ,"key":value.
std::string event_data(std::string_view name, std::string_view fields = {}) {
    return fmt::format("{{\"event\":\"{}\"{}}}", name, fields);
}

std::string json_field(std::string_view key, std::string_view text) {
    std::string field = fmt::format(",\"{}\":", key);
    append_json_string(text, field);
    return field;
}

// Credentials given for one server are sent to no other.
bool same_origin(const FeedSpec& a, const FeedSpec& b) {
    return a.tls == b.tls && a.host == b.host && a.port == b.port;
}

// A request's or an answer's header lines on one line, for -v.
template <class Message>
std::string describe_headers(const Message& message, const std::vector<std::string>& secret_headers) {
    std::string text;
    for (const auto& field : message) {
        text += "; ";
        text += printable_header(field.name_string(), field.value(), secret_headers);
    }
    return log::one_line(text);
}

}  // namespace

Feed::Feed(FeedExecutor executor, asio::ssl::context* tls, const FeedOptions& options, const OutputOptions& output,
           Channel& lines, Quota& quota)
    : executor_(executor),
      tls_(tls),
      spec_(options.spec),
      options_(options),
      lines_(lines),
      quota_(quota),
      envelope_(output.format, options.spec.name),
      events_(output.events),
      overflow_(output.overflow),
      backoff_(options.reconnect.backoff_min, options.reconnect.backoff_max),
      timer_(executor) {
    if (!options.connect.heartbeat.empty()) heartbeat_timer_ = std::make_unique<FeedTimer>(executor);
}

void Feed::stop() {
    if (stopping_) return;
    stopping_ = true;
    timer_.cancel();  // the backoff wait, or whatever else the timer bounds now
    if (on_stop_) on_stop_();
}

FeedTask<> Feed::run() {
    const ReconnectOptions& policy = options_.reconnect;
    if (spec_.tls && options_.tls.insecure)
        log::warning(spec_.name, "TLS certificate verification is off (--insecure)");
    std::uint64_t failures = 0;
    while (!stopping_) {
        // Each attempt starts at the feed's own URL: no redirect is remembered.
        redirected_.reset();
        std::vector<std::string> visited;  // filled only when a redirect comes
        Attempt attempt;
        for (;;) {
            if (where().tls) co_await this->attempt<SecureWs>(attempt);
            else co_await this->attempt<PlainWs>(attempt);
            if (attempt.location.empty() || stopping_ || !follow_redirect(attempt, visited)) break;
            attempt = Attempt{};
        }
        if (attempt.connected) {
            // Stopped: the close was wsgather's own, 1000, echoed by the server.
            unsigned code = stopping_ ? 1000 : attempt.close_code;
            std::string_view reason = stopping_ ? std::string_view("stopped") : std::string_view(attempt.reason);
            co_await emit_event(
                event_data("disconnected", fmt::format(",\"code\":{}{}", code, json_field("reason", reason))));
        }
        if (stopping_) break;

        if (attempt.connected) failures = 0;
        else ++failures;
        if (attempt.connected && attempt.up_for >= policy.backoff_max) backoff_.reset();

        if (attempt.give_up) {
            log::error(spec_.name, "{}; giving up", attempt.reason);
            co_await give_up(attempt.reason);
            co_return;
        }
        if (!policy.enabled) {
            if (attempt.clean) {
                log::info(spec_.name, "{}", attempt.reason);
                outcome_ = FeedOutcome::ended;
                co_return;
            }
            log::error(spec_.name, "{}", attempt.reason);
            co_await give_up(attempt.reason);
            co_return;
        }
        if (policy.max_retries != 0 && failures >= policy.max_retries) {
            log::error(spec_.name, "{}; giving up after {} failed attempt{}", attempt.reason, failures,
                       failures == 1 ? "" : "s");
            co_await give_up(attempt.reason);
            co_return;
        }

        Duration delay = backoff_.next();
        if (attempt.retry_after) delay = std::max(delay, std::min(*attempt.retry_after, longest_retry_after));
        if (attempt.clean) log::info(spec_.name, "{}; reconnecting in {}", attempt.reason, format_duration(delay));
        else log::warning(spec_.name, "{}; reconnecting in {}", attempt.reason, format_duration(delay));
        counters_.count_reconnect();
        co_await emit_event(event_data("retrying", fmt::format(",\"delay_ms\":{}{}", delay.count(),
                                                               json_field("reason", attempt.reason))));
        timer_.expires_after(delay);
        co_await timer_.async_wait(use_tuple);  // stop() cancels it
    }
    outcome_ = FeedOutcome::stopped;
}

FeedTask<> Feed::give_up(const std::string& reason) {
    outcome_ = FeedOutcome::failed;
    co_await emit_event(event_data("gave_up", json_field("reason", reason)));
}

FeedTask<> Feed::emit_event(std::string data) {
    if (!events_) co_return;
    auto now = std::chrono::system_clock::now();
    // A gap is explained before the change of connection that follows it.
    if (std::uint64_t drops = counters_.drops(); drops != drops_reported_) {
        co_await queue_event(drop_report(drops), now);
        drops_reported_ = drops;
        drops_reported_at_ = now;
    }
    co_await queue_event(data, now);
}

FeedTask<> Feed::queue_event(std::string_view data, std::chrono::system_clock::time_point now) {
    // Events wait for room under every --overflow policy: they are never
    // dropped, and they drop nothing, so that "dropped" records add up.
    Message event = event_message(data, now);
    if (!lines_.try_send(event)) co_await lines_.send(event);
}

Message Feed::event_message(std::string_view data, std::chrono::system_clock::time_point now) {
    return Message{&envelope_, &counters_, 0, conn_, now, MessageKind::event, data};
}

bool Feed::offer(const Message& message) {
    // send_dropping_oldest tries for room first: one lock either way. It
    // fails only when the channel holds events alone; then this message is
    // the one dropped.
    bool queued = overflow_ == Overflow::drop_oldest ? lines_.send_dropping_oldest(message) : lines_.try_send(message);
    if (queued) return true;
    if (overflow_ == Overflow::block) return false;
    counters_.count_drop();
    return true;
}

void Feed::report_drops(std::chrono::system_clock::time_point now) {
    std::uint64_t drops = counters_.drops();
    if (drops == drops_reported_ || now - drops_reported_at_ < drop_report_interval) return;
    std::string data = drop_report(drops);
    if (!lines_.try_send(event_message(data, now))) return;
    drops_reported_ = drops;
    drops_reported_at_ = now;
}

std::string Feed::drop_report(std::uint64_t drops) const {
    return event_data("dropped", fmt::format(",\"messages\":{}", drops - drops_reported_));
}

bool Feed::follow_redirect(Attempt& result, std::vector<std::string>& visited) {
    const FeedSpec& from = where();
    std::string from_url = request_url(from);
    auto base = boost::urls::parse_uri(from_url);  // a view of from_url
    auto reference = boost::urls::parse_uri_reference(result.location);
    boost::urls::url resolved;
    if (!base || !reference || !boost::urls::resolve(*base, *reference, resolved)) {
        result.reason = fmt::format("{}: cannot follow the redirect to '{}': not a URL", result.reason,
                                    log::one_line(hide_password(result.location)));
        return false;
    }
    FeedSpec next;
    try {
        next = parse_feed_url(resolved.buffer());
    } catch (const FeedUrlError& e) {
        result.reason = fmt::format("{}: cannot follow the redirect: {}", result.reason, log::one_line(e.what()));
        return false;
    }
    std::string url = request_url(next);
    if (visited.empty()) visited.push_back(request_url(spec_));
    if (from.tls && !next.tls) {
        result.reason = fmt::format("{}: refused to follow the redirect from wss:// to {}", result.reason, next.url);
        return false;
    }
    if (next.tls && !tls_) {
        result.reason = fmt::format("{}: cannot follow the redirect to {}: a run without wss:// feeds has no TLS set "
                                    "up; give that URL instead", result.reason, next.url);
        return false;
    }
    if (std::find(visited.begin(), visited.end(), url) != visited.end()) {
        result.reason = fmt::format("{}: redirect loop: {} leads back to {}", result.reason, from_url, url);
        return false;
    }
    if (visited.size() > static_cast<std::size_t>(max_redirects)) {
        result.reason = fmt::format("{}: too many redirects (more than {}), the last to {}", result.reason,
                                    max_redirects, next.url);
        return false;
    }
    visited.push_back(url);
    if (next.userinfo.empty() && same_origin(next, spec_)) next.userinfo = spec_.userinfo;
    next.name = spec_.name;
    log::info(spec_.name, "{}: redirected to {} ({} of at most {})", result.reason, next.url, visited.size() - 1,
              max_redirects);
    redirected_ = std::make_unique<FeedSpec>(std::move(next));
    return true;
}

template <class Interrupt>
void Feed::arm_deadline(steady_clock::time_point deadline, Interrupt interrupt) {
    deadline_passed_ = false;
    timer_.expires_at(deadline);
    timer_.async_wait([this, generation = ++deadline_generation_, interrupt](error_code ec) {
        // A wait that had ended before disarm_deadline() could cancel it may
        // still run: disarming moved the generation on, and this one is stale.
        if (ec || generation != deadline_generation_) return;
        deadline_passed_ = true;
        interrupt();
    });
}

void Feed::disarm_deadline() {
    ++deadline_generation_;
    timer_.cancel();
}

FeedTask<asio::ip::tcp::resolver::results_type> Feed::resolve(const std::string& host, const std::string& port,
                                                             steady_clock::time_point deadline, Attempt& result) {
    // The resolver lives only as long as this step: an open feed has no use for it.
    FeedResolver resolver(executor_);
    asio::ip::tcp::resolver::results_type endpoints;
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    bool timed_out = false;
    if (!ec) {
        // An IP address needs no look-up: done here, it spares starting the
        // resolver's thread (W7, docs/performance.md).
        endpoints = resolver.resolve(host, port,
                                     FeedResolver::numeric_host | FeedResolver::numeric_service, ec);
    } else {
        // getaddrinfo cannot be interrupted; cancelling abandons its answer.
        auto cancel = [&resolver] { resolver.cancel(); };
        StopHook hook(on_stop_, cancel);
        arm_deadline(deadline, cancel);
        std::tie(ec, endpoints) = co_await resolver.async_resolve(host, port, use_tuple);
        disarm_deadline();
        timed_out = deadline_passed_;
    }
    if (timed_out)
        result.reason = fmt::format("cannot resolve {}: no answer within {}", host,
                                    format_duration(options_.connect.connect_timeout));
    else if (ec)
        result.reason = fmt::format("cannot resolve {}: {}", host, ec.message());
    co_return endpoints;
}

std::optional<ProxyUrl> Feed::choose_proxy(Attempt& result) const {
    const FeedSpec& server = where();
    const std::string& named = options_.connect.proxy;
    if (named == proxy_direct) return std::nullopt;
    try {
        if (!named.empty()) return parse_proxy_url(named);
        std::optional<std::string> from_environment = proxy_for(server.tls, server.host, server.port,
                                                                process_environment);
        if (from_environment) return parse_proxy_url(*from_environment);
    } catch (const ProxyUrlError& e) {
        result.reason = named.empty() ? fmt::format("{} (from the environment)", e.what()) : e.what();
        result.give_up = true;
    }
    return std::nullopt;
}

template <class Ws>
FeedTask<> Feed::attempt(Attempt& result) {
    // The stream lives here; everything that only opening it needs (the
    // endpoints, the handshake's answer) lives in open()'s frame, which is
    // gone before the session starts: an idle feed keeps only what reading needs.
    std::optional<Ws> ws;
    if constexpr (is_secure<Ws>) ws.emplace(executor_, *tls_);
    else ws.emplace(executor_);
    co_await open(*ws, result);
    if (!result.connected) co_return;

    auto up_since = steady_clock::now();
    co_await session(*ws, result);
    result.up_for = steady_clock::now() - up_since;
}

template <class Ws>
FeedTask<> Feed::open(Ws& ws, Attempt& result) {
    const ConnectOptions& connect = options_.connect;
    const FeedSpec& server = where();
    auto deadline = steady_clock::now() + connect.connect_timeout;

    std::optional<ProxyUrl> proxy = choose_proxy(result);
    if (!result.reason.empty()) co_return;
    // Through a proxy, TCP goes to the proxy; the server's name is resolved there.
    std::string proxy_name = proxy ? authority(proxy->host, proxy->port) : std::string();
    const std::string& dial_host = proxy ? proxy->host : server.host;
    const std::string& dial_port = proxy ? proxy->port : server.port;
    auto endpoints = co_await resolve(dial_host, dial_port, deadline, result);
    if (!result.reason.empty() || stopping_) co_return;

    // Closing the socket ends a connect or a TLS handshake in progress, and
    // it stops asio's connect from going on to the next endpoint.
    FeedSocket& socket = beast::get_lowest_layer(ws);
    auto close_socket = [&socket] {
        error_code ignored;
        socket.close(ignored);
    };
    StopHook hook(on_stop_, close_socket);

    // One deadline bounds connect and TLS together.
    arm_deadline(deadline, close_socket);
    auto [connect_error, endpoint] = co_await asio::async_connect(socket, endpoints, use_tuple);
    if (connect_error) {
        disarm_deadline();
        std::string to = proxy ? "proxy " + proxy_name : server.host_header;
        result.reason = deadline_passed_
                            ? fmt::format("cannot connect to {}: no answer within {}", to,
                                          format_duration(connect.connect_timeout))
                            : fmt::format("cannot connect to {}: {}", to, connect_error.message());
        co_return;
    }
    error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);

    if (proxy) {
        TunnelResult tunnel = co_await open_tunnel(socket, *proxy, server.host, server.port);
        if (!tunnel.problem.empty()) {
            disarm_deadline();
            result.reason = deadline_passed_ ? fmt::format("no answer from proxy {} to CONNECT within {}", proxy_name,
                                                           format_duration(connect.connect_timeout))
                                             : tunnel.problem;
            result.give_up = tunnel.give_up;
            co_return;
        }
    }

    if constexpr (is_secure<Ws>) {
        prepare_tls_stream(ws.next_layer(), server.host, options_.tls.insecure);
        auto [tls_error] = co_await ws.next_layer().async_handshake(asio::ssl::stream_base::client, use_tuple);
        disarm_deadline();
        if (tls_error) {
            std::string problem = certificate_problem(ws.next_layer());
            if (!problem.empty()) {
                result.reason = fmt::format("TLS certificate of {} rejected: {}", server.host_header, problem);
                result.give_up = true;  // the same certificate will be rejected again
            } else if (deadline_passed_) {
                result.reason = fmt::format("TLS handshake with {}: no answer within {}", server.host_header,
                                            format_duration(connect.connect_timeout));
            } else {
                result.reason = fmt::format("TLS handshake with {} failed: {}", server.host_header, tls_error.message());
            }
            co_return;
        }
    }
    disarm_deadline();

    // WebSocket: from here on the websocket stream keeps its own timers.
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = remaining(deadline);
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator([this](websocket::request_type& request) {
        request.set(http::field::user_agent, "wsgather/" WSGATHER_VERSION);
        if (!where().userinfo.empty()) {
            std::string credentials = "Basic ";
            append_base64(where().userinfo, credentials);
            request.set(http::field::authorization, credentials);
        }
        if (!options_.connect.subprotocols.empty()) {
            std::string offered;
            for (const std::string& p : options_.connect.subprotocols) offered += (offered.empty() ? "" : ", ") + p;
            request.set(http::field::sec_websocket_protocol, offered);
        }
        // A header given with -H replaces a default of the same name.
        // Credentials go only to the server they were given for.
        const auto& secrets = options_.connect.secret_headers;
        bool elsewhere = redirected_ && !same_origin(*redirected_, spec_);
        for (const Header& h : options_.connect.headers) request.erase(h.name);
        for (const Header& h : options_.connect.headers)
            if (!elsewhere || !is_secret_header(h.name, secrets)) request.insert(h.name, h.value);
        if (log::enabled(log::Level::debug))
            log::debug(spec_.name, "handshake request: GET {}{}", log::one_line(where().target),
                       describe_headers(request, secrets));
    }));
    ws.read_message_max(connect.max_message_size);
    if (connect.compress) {
        websocket::permessage_deflate deflate;
        deflate.client_enable = true;
        ws.set_option(deflate);
    }

    websocket::response_type answer;
    answer.result(0u);  // stays 0 unless an answer is read
    auto [handshake_error] = co_await ws.async_handshake(answer, server.host_header, server.target, use_tuple);
    if (log::enabled(log::Level::debug) && answer.result_int() != 0)
        log::debug(spec_.name, "handshake answer: HTTP {} {}{}", answer.result_int(), log::one_line(answer.reason()),
                   describe_headers(answer, connect.secret_headers));
    if (handshake_error == websocket::error::upgrade_declined) {
        explain_handshake_answer(answer, result);
        co_return;
    }
    if (handshake_error) {
        if (handshake_error == beast::error::timeout)
            result.reason = fmt::format("WebSocket handshake with {}: no answer within {}", server.host_header,
                                        format_duration(connect.connect_timeout));
        else if (handshake_error == http::error::end_of_stream || handshake_error == http::error::partial_message)
            result.reason = fmt::format("WebSocket handshake with {} failed: the server closed the connection "
                                        "before its answer was complete", server.host_header);
        else
            result.reason = fmt::format("WebSocket handshake with {} failed: {}", server.host_header,
                                        handshake_error.message());
        co_return;
    }
    // Beast 1.81 checks neither of these itself.
    std::string problem = check_handshake_answer(answer[http::field::sec_websocket_protocol],
                                                 answer[http::field::sec_websocket_extensions]);
    if (!problem.empty()) {
        result.reason = problem;
        co_return;  // the stream is dropped without a close handshake: the peer broke the protocol
    }

    result.connected = true;
    ++conn_;
    auto subprotocol = answer[http::field::sec_websocket_protocol];
    std::string details = fmt::format("conn {}", conn_);
    if (!subprotocol.empty()) details += fmt::format(", subprotocol {}", std::string_view(subprotocol));
    if (proxy) details += fmt::format(", through proxy {}", proxy_name);
    log::info(spec_.name, "connected to {} ({})", server.url, details);
    if (events_) {
        std::string fields = json_field("url", hide_password(server.url));
        if (!subprotocol.empty()) fields += json_field("subprotocol", std::string_view(subprotocol));
        if (proxy) fields += json_field("proxy", proxy_name);
        co_await emit_event(event_data("connected", fields));
    }

    // The handshake timeout now bounds the wait for the server's close reply.
    timeouts.handshake_timeout = connect.close_timeout;
    ws.set_option(timeouts);
}

Duration Feed::coalesce_time() const {
    if (!options_.connect.coalesce_when_busy) return options_.connect.coalesce;
    return busy_.busy() ? busy_coalesce : Duration(0);
}

void Feed::explain_handshake_answer(const websocket::response_type& answer, Attempt& result) {
    int status = answer.result_int();
    std::string_view reason = answer.reason(), location = answer[http::field::location];
    std::string_view retry_after = answer[http::field::retry_after];
    bool redirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (redirect && !location.empty()) {
        result.reason = fmt::format("HTTP {} {}", status, log::one_line(reason));
        result.location = location;
        return;
    }
    if (status >= 200 && status < 300)
        result.reason = fmt::format("server answered the WebSocket upgrade with HTTP {} {}, not 101", status,
                                    log::one_line(reason));
    else
        result.reason = fmt::format("server refused the WebSocket upgrade: HTTP {} {}", status, log::one_line(reason));
    if (status == 401 || status == 403 || status == 404) {
        result.give_up = true;
        return;
    }
    if ((status == 429 || status >= 500) && !retry_after.empty()) {
        result.retry_after = parse_retry_after(retry_after, std::chrono::system_clock::now());
        if (result.retry_after) result.reason += fmt::format(" (Retry-After: {})", retry_after);
    }
}

std::string Feed::check_handshake_answer(std::string_view subprotocol, std::string_view extensions) const {
    const auto& offered = options_.connect.subprotocols;
    if (!subprotocol.empty() && std::find(offered.begin(), offered.end(), subprotocol) == offered.end()) {
        if (offered.empty())
            return fmt::format("server selected subprotocol '{}' that was not offered", subprotocol);
        std::string list;
        for (const std::string& p : offered) list += (list.empty() ? "" : ", ") + p;
        return fmt::format("server selected subprotocol '{}', not one of those offered ({})", subprotocol, list);
    }
    for (std::string_view name : extension_names(extensions)) {
        if (name != "permessage-deflate" || !options_.connect.compress)
            return fmt::format("server enabled extension '{}' that was not offered", name);
    }
    return {};
}

template <class Ws>
FeedTask<> Feed::session(Ws& ws, Attempt& result) {
    // The close and the liveness check run beside the reader, and all of them
    // finish before the stream goes away.
    TaskGroup tasks(executor_);
    bool closing = false;
    StopHook hook(on_stop_, [&] {
        if (std::exchange(closing, true)) return;
        tasks.spawn(close(ws));
    });
    session_over_ = false;
    peer_dead_ = false;
    paused_ = false;
    // Pongs, pings and close frames never complete a read: count them here.
    ws.control_callback([this](websocket::frame_type, beast::string_view) { ++signs_of_life_; });

    for (const std::string& text : options_.connect.send) {
        if (stopping_) break;
        ws.text(true);
        auto [ec, n] = co_await ws.async_write(asio::buffer(text), use_tuple);
        if (ec) {
            result.reason = fmt::format("cannot send subscribe message: {}", ec.message());
            break;
        }
    }
    if (result.reason.empty() && !stopping_) {
        // Not before: each step of the handshakes would wait out the coalescing time.
        busy_.reset();
        socket_reader(ws).coalesce(coalesce_time());
        if (options_.connect.ping_interval.count() > 0) schedule_ping(ws, tasks);
        if (heartbeat_timer_) tasks.spawn(send_heartbeats(ws));
        co_await read_messages(ws, result);
    }
    session_over_ = true;
    timer_.cancel();
    if (heartbeat_timer_) heartbeat_timer_->cancel();
    co_await tasks.join();
}

template <class Ws>
FeedTask<> Feed::send_heartbeats(Ws& ws) {
    const ConnectOptions& connect = options_.connect;
    for (;;) {
        heartbeat_timer_->expires_after(connect.heartbeat_interval);
        auto [ec] = co_await heartbeat_timer_->async_wait(use_tuple);
        if (ec || session_over_ || stopping_) co_return;
        // The subscribe messages are all written by now: this is the only writer.
        ws.text(true);
        auto [write_error, n] = co_await ws.async_write(asio::buffer(connect.heartbeat), use_tuple);
        // The read sees the same failure and reports it.
        if (write_error) co_return;
    }
}

template <class Ws>
FeedTask<> Feed::read_messages(Ws& ws, Attempt& result) {
    beast::flat_buffer buffer;
    while (!stopping_) {
        // Frame by frame, so that every frame counts as a sign of life.
        do {
            // A message's first read takes no more than the buffer already
            // holds: an idle feed waits with a small buffer, a busy one with
            // what earlier messages grew it to (0 is Beast's "no limit").
            std::size_t limit = buffer.size() == 0 ? std::max(buffer.capacity(), first_read_bytes) : 0;
            auto [ec, n] = co_await ws.async_read_some(buffer, limit, use_tuple);
            ++signs_of_life_;
            if (!ec) continue;
            if (stopping_) co_return;
            // A close frame that came counts even when the teardown after it
            // failed: a proxy (nginx) may have hung up before our reply,
            // and Beast then reports the teardown's error instead (1.81).
            if (ec == websocket::error::closed || ws.reason().code != websocket::close_code::none) {
                auto code = ws.reason().code;
                result.clean = code == websocket::close_code::normal || code == websocket::close_code::going_away;
                result.close_code = code;
                result.reason = fmt::format("server closed the connection ({})", describe_close(ws.reason()));
            } else if (peer_dead_) {
                result.reason = fmt::format("no answer within {} of a ping: the server is unresponsive",
                                            format_duration(options_.connect.ping_timeout));
            } else if (ec == websocket::error::message_too_big) {
                result.reason = fmt::format("a message exceeded the maximum message size ({})",
                                            format_size(options_.connect.max_message_size));
            } else if (ec == websocket::error::bad_frame_payload) {
                result.reason = "server sent text that is not valid UTF-8 (closed with 1007)";
            } else if (ec == websocket::condition::protocol_violation) {
                // Beast has sent the close frame; its words start with a capital.
                std::string what = ec.message();
                if (!what.empty()) what.front() = static_cast<char>(std::tolower(static_cast<unsigned char>(what.front())));
                result.reason = fmt::format("server broke the WebSocket protocol (closed with 1002): {}", what);
            } else if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
                result.reason = "server dropped the connection without a close frame";
            } else {
                result.reason = fmt::format("connection lost: {}", ec.message());
            }
            co_return;
        } while (!ws.is_message_done());

        auto received = std::chrono::system_clock::now();
        if (options_.connect.coalesce_when_busy && busy_.update(received)) {
            socket_reader(ws).coalesce(coalesce_time());
            if (busy_.busy()) log::debug(spec_.name, "busy: reads wait up to {} for more (--coalesce auto)",
                                         format_duration(coalesce_time()));
            else log::debug(spec_.name, "no longer busy: each message is read as it comes (--coalesce auto)");
        }
        // --count reached. The run's stop() is under way, but with feeds on
        // other threads it may not have reached this one yet.
        if (!quota_.take()) {
            stop();
            co_return;
        }
        auto data = buffer.cdata();
        // A dropped message keeps its seq, so that the gap shows where it was.
        Message message{&envelope_, &counters_, ++seq_, conn_, received,
                        ws.got_binary() ? MessageKind::binary : MessageKind::text,
                        std::string_view(static_cast<const char*>(data.data()), data.size())};
        counters_.count_message(message.payload.size(), received);
        if (events_ && overflow_ != Overflow::block) report_drops(received);
        if (!offer(message)) {
            // A full channel holds this coroutine here: the socket is not
            // read and TCP flow control slows the server down.
            paused_ = true;
            co_await lines_.send(message);
            paused_ = false;
            ++signs_of_life_;  // the pause ended: the peer had no chance to be heard
        }
        buffer.consume(buffer.size());
        if (buffer.capacity() > kept_buffer_bytes) buffer.shrink_to_fit();
    }
}

// The liveness check is a chain of callbacks, not a coroutine: it runs beside
// every open connection, and for an idle feed a coroutine frame and its spawn
// cost more memory than the rest of the check (docs/performance.md, W6).
// A ping goes out every --ping-interval; the peer is dead when nothing at
// all has come within --ping-timeout of the oldest ping not yet answered.
// So a peer that goes silent is found within interval + timeout.
template <class Ws>
void Feed::schedule_ping(Ws& ws, TaskGroup& tasks) {
    unanswered_ping_.reset();
    ping_in_flight_ = false;
    next_ping_ = steady_clock::now() + options_.connect.ping_interval;
    wait_for_liveness_event(ws, tasks);
}

template <class Ws>
void Feed::wait_for_liveness_event(Ws& ws, TaskGroup& tasks) {
    auto when = next_ping_;
    if (unanswered_ping_) when = std::min(when, *unanswered_ping_ + options_.connect.ping_timeout);
    timer_.expires_at(when);
    timer_.async_wait(tasks.track([this, &ws, &tasks](error_code ec) {
        if (ec || session_over_) return;
        check_liveness(ws, tasks);
    }));
}

template <class Ws>
void Feed::check_liveness(Ws& ws, TaskGroup& tasks) {
    const ConnectOptions& connect = options_.connect;
    auto now = steady_clock::now();
    // Any frame since the oldest unanswered ping answers it. While the reader
    // waits for room in the channel it cannot hear the peer: nothing to judge.
    if (paused_ || signs_of_life_ != signs_at_ping_) unanswered_ping_.reset();
    if (unanswered_ping_ && now >= *unanswered_ping_ + connect.ping_timeout) {
        peer_dead_ = true;
        // Closing the socket, not cancelling the read, is the safe way to
        // end a Beast read in progress (beast#1117).
        error_code ignored;
        beast::get_lowest_layer(ws).close(ignored);
        return;
    }
    if (now >= next_ping_) {
        next_ping_ = now + connect.ping_interval;
        // One ping at a time: a ping still queued behind a write says nothing new.
        if (!paused_ && !ping_in_flight_) {
            if (!unanswered_ping_) {
                unanswered_ping_ = now;
                signs_at_ping_ = signs_of_life_;
            }
            ping_in_flight_ = true;
            ws.async_ping({}, tasks.track([this](error_code) { ping_in_flight_ = false; }));
        }
    }
    wait_for_liveness_event(ws, tasks);
}

template <class Ws>
FeedTask<> Feed::close(Ws& ws) {
    auto [ec] = co_await ws.async_close(websocket::close_code::normal, use_tuple);
    if (ec && ec != asio::error::operation_aborted)
        log::debug(spec_.name, "close handshake did not complete: {}", ec.message());
}

}  // namespace wsgather
