// wsgather-bench-server: the load generator behind the benchmarks.
//
//   wsgather-bench-server [--port N]
//
// Listens on 127.0.0.1 and prints "PORT <n>" once ready. The request target
// picks the load:
//
//   /stream?count=N[&size=S][&mode=batched|frame][&rate=R]
//   /stream/<anything>?... (the same; distinct paths give distinct feed names)
//       N text messages {"n":i,"sent_us":<µs since the epoch>,"pad":"aa…"},
//       each exactly S bytes (default 100) unless S is below the fixed part,
//       then a close with code 1000. batched (the default) writes ready-made
//       frames ~256 KiB at a time, so the server is never the bottleneck;
//       frame makes one Beast write per message; rate=R (messages per second,
//       implies frame) paces them.
//   /idle, /idle/<anything>
//       holds the connection open and prints "OPEN <idle connections open>".
//
// Unknown paths get HTTP 404, bad or unknown parameters HTTP 400.

#include "latency.hpp"
#include "peer_support.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using wsgather::bench::now_us;
using wsgather::peer::accept_loop;
using wsgather::peer::emit;
using wsgather::peer::parse_number;
using wsgather::peer::raise_fd_limit;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace urls = boost::urls;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// Errors come back as values: a client going away is routine, not an exception.
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// Big enough that one send carries thousands of small frames.
constexpr std::size_t batch_bytes = 256 * 1024;
// Matches the ceiling client's read_message_max; also keeps a typo in size=
// from asking for terabytes.
constexpr std::size_t max_size = 64 * 1024 * 1024;

using Request = http::request<http::string_body>;
using Websocket = websocket::stream<beast::tcp_stream>;

// ---- messages and frames ----------------------------------------------------

constexpr std::string_view part_n = "{\"n\":";
constexpr std::string_view part_sent = ",\"sent_us\":";
static_assert(part_sent.substr(1) == wsgather::bench::sent_field, "the field W5's readers look for");
constexpr std::string_view part_pad = ",\"pad\":\"";
constexpr std::string_view part_end = "\"}";
constexpr std::size_t fixed_chars = part_n.size() + part_sent.size() + part_pad.size() + part_end.size();
// Frame header plus the longest fixed part (two 20-digit numbers).
constexpr std::size_t max_overhead = 10 + fixed_chars + 40;

std::size_t digits(std::uint64_t v)
{
    std::size_t n = 1;
    while (v >= 10) {
        v /= 10;
        ++n;
    }
    return n;
}

std::size_t message_size(std::uint64_t i, std::uint64_t sent_us, std::size_t size)
{
    return std::max(size, fixed_chars + digits(i) + digits(sent_us));
}

char* put(char* out, std::string_view text)
{
    std::memcpy(out, text.data(), text.size());
    return out + text.size();
}

char* put(char* out, std::uint64_t v)
{
    return std::to_chars(out, out + 20, v).ptr;
}

// Writes message i, exactly `length` bytes (from message_size), at `out`.
char* put_message(char* out, std::uint64_t i, std::uint64_t sent_us, std::size_t length)
{
    char* const start = out;
    out = put(out, part_n);
    out = put(out, i);
    out = put(out, part_sent);
    out = put(out, sent_us);
    out = put(out, part_pad);
    std::size_t const pad = length - static_cast<std::size_t>(out - start) - part_end.size();
    std::memset(out, 'a', pad);
    return put(out + pad, part_end);
}

// An unmasked server text frame, FIN set, RFC 6455 section 5.2.
char* put_frame(char* out, std::uint64_t i, std::uint64_t sent_us, std::size_t size)
{
    std::size_t const length = message_size(i, sent_us, size);
    *out++ = static_cast<char>(0x81);
    if (length < 126) {
        *out++ = static_cast<char>(length);
    } else if (length <= 0xffff) {
        *out++ = 126;
        *out++ = static_cast<char>(length >> 8);
        *out++ = static_cast<char>(length);
    } else {
        *out++ = 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            *out++ = static_cast<char>(static_cast<std::uint64_t>(length) >> shift);
    }
    return put_message(out, i, sent_us, length);
}

// ---- routing ----------------------------------------------------------------

enum class Mode { batched, frame, idle };

struct Plan {
    unsigned http_status = 0; // non-zero: refuse the upgrade with this status
    Mode mode = Mode::batched;
    std::uint64_t count = 0;
    std::size_t size = 100;
    double rate = 0; // messages per second, 0 = as fast as possible
};

Plan refuse_with(unsigned status)
{
    Plan plan;
    plan.http_status = status;
    return plan;
}

Plan route(Request const& req)
{
    auto const parsed = urls::parse_origin_form(req.target());
    if (!parsed)
        return refuse_with(400);
    urls::url_view const url = *parsed;
    std::string const path = url.path();

    if (path == "/idle" || path.starts_with("/idle/")) {
        Plan plan;
        plan.mode = Mode::idle;
        return plan;
    }
    if (path != "/stream" && !path.starts_with("/stream/"))
        return refuse_with(404);

    // A misspelt parameter would silently measure the defaults: refuse it.
    Plan plan;
    bool have_count = false;
    for (auto const param : url.params()) {
        std::string const value = param.value;
        if (param.key == "count") {
            auto const n = parse_number<std::uint64_t>(value);
            if (!n)
                return refuse_with(400);
            plan.count = *n;
            have_count = true;
        } else if (param.key == "size") {
            auto const s = parse_number<std::size_t>(value);
            if (!s || *s > max_size)
                return refuse_with(400);
            plan.size = *s;
        } else if (param.key == "mode") {
            if (value == "batched")
                plan.mode = plan.rate > 0 ? Mode::frame : Mode::batched;
            else if (value == "frame")
                plan.mode = Mode::frame;
            else
                return refuse_with(400);
        } else if (param.key == "rate") {
            auto const r = parse_number<double>(value);
            if (!r || !std::isfinite(*r) || !(*r > 0))
                return refuse_with(400);
            plan.rate = *r;
            plan.mode = Mode::frame; // pacing needs one write per message
        } else {
            return refuse_with(400);
        }
    }
    if (!have_count)
        return refuse_with(400);
    return plan;
}

// ---- connections ------------------------------------------------------------

std::size_t idle_open = 0;

awaitable<void> refuse(beast::tcp_stream& stream, Request const& req, unsigned status)
{
    http::response<http::string_body> res;
    res.version(req.version());
    res.result(status);
    res.set(http::field::server, "wsgather-bench-server");
    res.set(http::field::content_type, "text/plain");
    res.keep_alive(false);
    res.body() = std::to_string(status) + "\n";
    res.prepare_payload();
    co_await http::async_write(stream, res, nothrow);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

// Frames built here and written straight to the socket: no per-message
// syscall, no Beast write machinery. Beast is idle meanwhile, so it is safe.
awaitable<bool> send_batched(Websocket& ws, Plan const& plan)
{
    auto& socket = beast::get_lowest_layer(ws).socket();
    std::vector<char> batch(std::max(batch_bytes, plan.size + max_overhead));
    char* const end = batch.data() + batch.size();
    std::uint64_t i = 1;
    while (i <= plan.count) {
        std::uint64_t const sent_us = now_us();
        char* out = batch.data();
        // The buffer always has room for one frame, so every pass makes progress.
        do {
            out = put_frame(out, i, sent_us, plan.size);
            ++i;
        } while (i <= plan.count && static_cast<std::size_t>(end - out) >= plan.size + max_overhead);
        auto const bytes = static_cast<std::size_t>(out - batch.data());
        if (auto [ec, n] = co_await asio::async_write(socket, asio::buffer(batch.data(), bytes), nothrow); ec)
            co_return false;
    }
    co_return true;
}

awaitable<bool> send_frames(Websocket& ws, Plan const& plan)
{
    // Beast splits messages above its 4 KiB write buffer into 4 KiB frames by
    // default; one frame per message is what this mode measures.
    ws.auto_fragment(false);
    ws.text(true);
    asio::steady_timer pacer(ws.get_executor());
    std::string message;
    auto const start = std::chrono::steady_clock::now();
    for (std::uint64_t i = 1; i <= plan.count; ++i) {
        if (plan.rate > 0) {
            // Slots count from the start, so one late write doesn't shift the rest.
            auto const due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                         std::chrono::duration<double>(static_cast<double>(i - 1) / plan.rate));
            if (std::chrono::steady_clock::now() < due) {
                pacer.expires_at(due);
                co_await pacer.async_wait(nothrow);
            }
        }
        std::uint64_t const sent_us = now_us();
        std::size_t const length = message_size(i, sent_us, plan.size);
        message.resize(length);
        put_message(message.data(), i, sent_us, length);
        if (auto [ec, n] = co_await ws.async_write(asio::buffer(message), nothrow); ec)
            co_return false;
    }
    co_return true;
}

awaitable<void> hold_idle(Websocket& ws)
{
    emit("OPEN " + std::to_string(++idle_open));
    // A pending read is what answers pings and the client's close. The buffer
    // stays empty unless the client talks, so idle connections cost little.
    beast::flat_buffer buffer;
    for (;;) {
        auto [ec, n] = co_await ws.async_read(buffer, nothrow);
        if (ec)
            break;
        buffer.consume(buffer.size());
    }
    --idle_open;
}

awaitable<void> session(tcp::socket socket)
{
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    beast::tcp_stream stream(std::move(socket));

    Request req;
    {
        // Scoped so that ten thousand idle connections don't each keep it.
        beast::flat_buffer buffer;
        stream.expires_after(10s);
        if (auto [ec, n] = co_await http::async_read(stream, buffer, req, nothrow); ec)
            co_return;
    }
    Plan const plan = route(req);
    if (plan.http_status != 0) {
        co_await refuse(stream, req, plan.http_status);
        co_return;
    }

    // From here on the WebSocket timeouts rule; two timers on one socket fight.
    stream.expires_never();
    Websocket ws(std::move(stream));
    websocket::stream_base::timeout timeouts{};
    // Bounds the handshake and the wait for the client's close reply. The
    // close frame goes out behind megabytes of messages still in the socket
    // buffers, which a slow client reads for seconds before it can answer:
    // the bound is generous, and the driver bounds every run anyway. No idle
    // timeout: a streaming connection never reads, and idle ones are meant to stay.
    timeouts.handshake_timeout = 120s;
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(http::field::server, "wsgather-bench-server");
    }));
    if (auto [ec] = co_await ws.async_accept(req, nothrow); ec)
        co_return;
    req = {};

    if (plan.mode == Mode::idle) {
        co_await hold_idle(ws);
        co_return;
    }
    bool const sent = plan.mode == Mode::batched ? co_await send_batched(ws, plan)
                                                 : co_await send_frames(ws, plan);
    if (sent)
        co_await ws.async_close(websocket::close_code::normal, nothrow);
}

int usage()
{
    std::cerr << "usage: wsgather-bench-server [--port N]\n";
    return 2;
}

} // namespace

int main(int argc, char* argv[])
{
    unsigned short port = 0;
    if (argc == 3 && std::string_view(argv[1]) == "--port") {
        auto const p = parse_number<unsigned short>(argv[2]);
        if (!p)
            return usage();
        port = *p;
    } else if (argc != 1) {
        return usage();
    }

    // A driver that stops reading our stdout must not kill us with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    try {
        asio::io_context ioc(1);
        tcp::acceptor acceptor(ioc);
        tcp::endpoint const endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
        acceptor.open(endpoint.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(endpoint);
        // Thousands of clients connect at once; a short backlog would drop SYNs.
        acceptor.listen(asio::socket_base::max_listen_connections);
        emit("PORT " + std::to_string(acceptor.local_endpoint().port()));

        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });

        asio::co_spawn(ioc, accept_loop(acceptor, [](tcp::socket socket) { return session(std::move(socket)); }),
                       asio::detached);
        ioc.run();
    } catch (std::exception const& e) {
        std::cerr << "wsgather-bench-server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
