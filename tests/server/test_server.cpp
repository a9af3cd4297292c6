// wsgather-test-server: a scripted WebSocket server for the integration tests.
//
//   wsgather-test-server [--port N] [--tls CERT_PEM KEY_PEM]
//
// Prints "PORT <n>" once listening, then one event line per happening
// (HEADER, OPEN, RECV, RECVBIN, CLOSE), flushed at once so that tests can wait
// on them. The request target picks the behaviour: /count, /echo, /headers,
// /mixed, /status/CODE[?retry_after=&location=], /mute, /subprotocol;
// anything else gets HTTP 404.

#include "peer_support.hpp"

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

using wsgather::peer::accept_loop;
using wsgather::peer::emit;
using wsgather::peer::parse_number;
using wsgather::peer::raise_fd_limit;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace urls = boost::urls;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

namespace {

// Errors come back as values: a failing connection must end quietly, and
// awaitable operators lose exceptions (asio#900).
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

using Request = http::request<http::string_body>;

std::string json_quote(std::string_view text)
{
    std::string out = "\"";
    for (unsigned char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < 0x20) {
                std::array<char, 8> esc{};
                std::snprintf(esc.data(), esc.size(), "\\u%04x", c);
                out += esc.data();
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    return out + "\"";
}

std::string to_hex(std::string_view bytes)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 0xf];
    }
    return out;
}

struct Message {
    std::string data;
    bool binary = false;
};

// /count?n=N&size=S: {"i":k}, padded to exactly S bytes when S is larger.
Message count_message(std::size_t k, std::size_t size)
{
    std::string const id = std::to_string(k);
    std::string plain = "{\"i\":" + id + "}";
    if (size <= plain.size())
        return {plain};
    std::string const head = "{\"i\":" + id + ",\"pad\":\"";
    if (size >= head.size() + 2)
        return {head + std::string(size - head.size() - 2, 'x') + "\"}"};
    // Too short for a "pad" member: whitespace still makes it exactly S bytes
    // of valid JSON.
    plain.insert(plain.size() - 1, size - plain.size(), ' ');
    return {plain};
}

// The /mixed script: the awkward cases a JSON-lines aggregator must survive.
Message mixed_message(std::size_t k)
{
    switch (k) {
    case 1: return {R"({"a":1})"};
    case 2: return {R"(hello "world")"};
    case 3: return {"{\n  \"b\": [1, 2.50, true, null],\n  \"c\": \"x\\ty\"\n}"};
    case 4: return {std::string("\x00\x01\x02\xff", 4), true};
    case 5: return {""};
    case 6: return {"line1\nline2"};
    default: return {"42"};
    }
}
constexpr std::size_t mixed_count = 7;

// What the server does once its scripted messages are out.
struct After {
    enum Kind { close, drop, stay } kind = close;
    std::uint16_t code = websocket::close_code::normal;
};

struct Script {
    std::size_t count = 0;
    std::function<Message(std::size_t)> message; // k = 1..count
    double rate = 0;                             // messages per second, 0 = no pacing
    After after;
};

enum class Mode { echo, script, mute };

struct Plan {
    unsigned http_status = 0; // non-zero: refuse the upgrade with this status
    std::string retry_after;
    std::string location;     // a redirect's Location header
    Mode mode = Mode::echo;
    bool print_headers = false;
    std::optional<std::string> select_protocol;
    Script script;
};

Plan refuse_with(unsigned status)
{
    Plan plan;
    plan.http_status = status;
    return plan;
}

std::optional<std::string> query_value(urls::url_view const& url, std::string_view key)
{
    auto const it = url.params().find(key);
    if (it == url.params().end())
        return std::nullopt;
    return std::string((*it).value);
}

Plan route(Request const& req)
{
    auto const parsed = urls::parse_origin_form(req.target());
    if (!parsed)
        return refuse_with(400);
    urls::url_view const url = *parsed;
    std::string const path = url.path();

    if (path == "/count") {
        Plan plan;
        plan.mode = Mode::script;
        std::size_t n = 0;
        std::size_t size = 0;
        if (auto v = query_value(url, "n")) {
            auto parsed_n = parse_number<std::size_t>(*v);
            if (!parsed_n)
                return refuse_with(400);
            n = *parsed_n;
        }
        if (auto v = query_value(url, "size")) {
            auto parsed_size = parse_number<std::size_t>(*v);
            if (!parsed_size)
                return refuse_with(400);
            size = *parsed_size;
        }
        if (auto v = query_value(url, "rate")) {
            auto rate = parse_number<double>(*v);
            if (!rate || !(*rate >= 0))
                return refuse_with(400);
            plan.script.rate = *rate;
        }
        if (auto v = query_value(url, "close")) {
            if (*v == "drop") {
                plan.script.after.kind = After::drop;
            } else if (*v == "none") {
                plan.script.after.kind = After::stay;
            } else if (auto code = parse_number<std::uint16_t>(*v)) {
                plan.script.after.code = *code;
            } else {
                return refuse_with(400);
            }
        }
        plan.script.count = n;
        plan.script.message = [size](std::size_t k) { return count_message(k, size); };
        return plan;
    }
    if (path == "/echo")
        return Plan{};
    if (path == "/headers" || path.starts_with("/headers/")) {
        Plan plan;
        plan.print_headers = true;
        return plan;
    }
    if (path == "/mixed") {
        Plan plan;
        plan.mode = Mode::script;
        plan.script.count = mixed_count;
        plan.script.message = mixed_message;
        return plan;
    }
    if (path.starts_with("/status/")) {
        auto const code = parse_number<unsigned>(std::string_view(path).substr(8));
        if (!code || *code < 200 || *code > 599)
            return refuse_with(400);
        Plan plan = refuse_with(*code);
        // These go into headers verbatim: no line breaks smuggled in.
        for (auto [key, field] : {std::pair{"retry_after", &plan.retry_after}, std::pair{"location", &plan.location}}) {
            if (auto v = query_value(url, key)) {
                if (v->find_first_of("\r\n") != std::string::npos)
                    return refuse_with(400);
                *field = *v;
            }
        }
        return plan;
    }
    if (path == "/mute") {
        Plan plan;
        plan.mode = Mode::mute;
        return plan;
    }
    if (path == "/subprotocol") {
        Plan plan;
        plan.mode = Mode::script;
        plan.select_protocol = query_value(url, "select");
        std::string const offered = json_quote(req[http::field::sec_websocket_protocol]);
        plan.script.count = 1;
        plan.script.message = [offered](std::size_t) { return Message{offered}; };
        return plan;
    }
    return refuse_with(404);
}

// Ending the transport after an HTTP refusal, one overload per transport.
awaitable<void> end_transport(beast::tcp_stream& stream)
{
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.socket().close(ignored);
    co_return;
}

awaitable<void> end_transport(ssl::stream<beast::tcp_stream>& stream)
{
    // Clients often hang up without answering close_notify: don't wait long.
    stream.next_layer().expires_after(2s);
    co_await stream.async_shutdown(nothrow);
    stream.next_layer().close();
}

template <class Stream>
awaitable<void> refuse(Stream& stream, Request const& req, Plan const& plan)
{
    http::response<http::string_body> res;
    res.version(req.version());
    res.result(plan.http_status);
    // Beast has names only for registered codes; keep the status line sane for the rest.
    if (res.result() == http::status::unknown)
        res.reason("Unknown");
    res.set(http::field::server, "wsgather-test-server");
    res.set(http::field::content_type, "text/plain");
    if (!plan.retry_after.empty())
        res.set(http::field::retry_after, plan.retry_after);
    if (!plan.location.empty())
        res.set(http::field::location, plan.location);
    res.keep_alive(false);
    res.body() = std::to_string(plan.http_status) + "\n";
    res.prepare_payload();
    co_await http::async_write(stream, res, nothrow);
    co_await end_transport(stream);
}

template <class WS>
void report_message(WS& ws, std::string const& target, beast::flat_buffer const& buffer)
{
    std::string payload = beast::buffers_to_string(buffer.data());
    if (ws.got_text())
        emit("RECV " + target + " " + payload);
    else
        emit("RECVBIN " + target + " " + to_hex(payload));
}

template <class WS>
void report_end(WS& ws, std::string const& target, bool got_close_frame)
{
    if (!got_close_frame) {
        emit("CLOSE " + target + " none");
        return;
    }
    // A close frame without a status code is reported as 1005, as RFC 6455 7.1.5 says.
    auto const code = ws.reason().code;
    emit("CLOSE " + target + " " + std::to_string(code == websocket::close_code::none ? 1005 : code));
}

template <class WS>
awaitable<void> echo(WS& ws, std::string const& target)
{
    beast::flat_buffer buffer;
    for (;;) {
        auto [ec, n] = co_await ws.async_read(buffer, nothrow);
        if (ec)
            co_return;
        report_message(ws, target, buffer);
        ws.text(ws.got_text());
        // A failed write means the connection is gone; the next read says how.
        co_await ws.async_write(buffer.data(), nothrow);
        buffer.consume(buffer.size());
    }
}

// How a scripted connection ended, shared by its reader and writer.
struct Ending {
    bool read_ended = false;
    std::optional<beast::error_code> close_result; // set when the server started the close
};

// Reads for as long as the script runs: control frames are only handled while
// a read is pending, so this is what answers pings and sees the client's close.
template <class WS>
awaitable<void> read_until_end(WS& ws, std::string const& target, asio::steady_timer& pacer,
                               Ending& ending)
{
    beast::flat_buffer buffer;
    for (;;) {
        auto [ec, n] = co_await ws.async_read(buffer, nothrow);
        if (ec) {
            ending.read_ended = true;
            pacer.cancel(); // wake the writer if it is waiting for its next slot
            co_return;
        }
        report_message(ws, target, buffer);
        buffer.consume(buffer.size());
    }
}

template <class WS>
awaitable<void> send_script(WS& ws, Script const& script, asio::steady_timer& pacer,
                            Ending& ending)
{
    auto const start = std::chrono::steady_clock::now();
    for (std::size_t k = 1; k <= script.count && !ending.read_ended; ++k) {
        if (script.rate > 0) {
            // Slots are counted from the start, so a slow write doesn't shift the rest.
            auto const offset = std::chrono::duration<double>(static_cast<double>(k - 1) / script.rate);
            pacer.expires_at(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(offset));
            co_await pacer.async_wait(nothrow);
            if (ending.read_ended)
                co_return;
        }
        Message const message = script.message(k);
        ws.binary(message.binary);
        auto [ec, n] = co_await ws.async_write(asio::buffer(message.data), nothrow);
        if (ec)
            co_return;
    }
    if (ending.read_ended)
        co_return;
    switch (script.after.kind) {
    case After::close: {
        auto [ec] = co_await ws.async_close(websocket::close_reason(script.after.code), nothrow);
        ending.close_result = ec;
        break;
    }
    case After::drop: {
        // Closing the socket ends the pending read too; cancelling it would not (beast#1117).
        beast::error_code ignored;
        auto& socket = beast::get_lowest_layer(ws).socket();
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
        break;
    }
    case After::stay:
        break;
    }
}

template <class WS>
awaitable<void> run_script(WS& ws, std::string const& target, Script const& script,
                           bool& got_close_frame)
{
    asio::steady_timer pacer(ws.get_executor());
    Ending ending;
    co_await (read_until_end(ws, target, pacer, ending) && send_script(ws, script, pacer, ending));
    // Once the server's close frame is out, async_close aborts the pending read
    // and reads the client's answer itself, without telling the control callback.
    if (ending.close_result &&
        (!*ending.close_result || ws.reason().code != websocket::close_code::none))
        got_close_frame = true;
}

// /mute: never touch the WebSocket again, so pings go unanswered. Bytes are
// still drained below it, which is how a hang-up by the client is noticed.
template <class WS>
awaitable<void> mute(WS& ws)
{
    std::array<char, 4096> sink;
    for (;;) {
        auto [ec, n] = co_await ws.next_layer().async_read_some(asio::buffer(sink), nothrow);
        if (ec)
            co_return;
    }
}

template <class Stream>
awaitable<void> serve(Stream stream)
{
    beast::flat_buffer buffer;
    Request req;
    beast::get_lowest_layer(stream).expires_after(30s);
    if (auto [ec, n] = co_await http::async_read(stream, buffer, req, nothrow); ec)
        co_return;

    std::string const target(req.target());
    Plan const plan = route(req);
    if (plan.http_status != 0) {
        co_await refuse(stream, req, plan);
        co_return;
    }

    // From here on the WebSocket timeouts rule; two timers on one socket fight.
    beast::get_lowest_layer(stream).expires_never();
    websocket::stream<Stream> ws(std::move(stream));
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = 30s;
    // The tests decide when pings happen; /mute must never send anything.
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator([&plan](websocket::response_type& res) {
        res.set(http::field::server, "wsgather-test-server");
        if (plan.select_protocol)
            res.set(http::field::sec_websocket_protocol, *plan.select_protocol);
    }));
    if (auto [ec] = co_await ws.async_accept(req, nothrow); ec)
        co_return;

    if (plan.print_headers) {
        for (auto const& field : req)
            emit("HEADER " + std::string(field.name_string()) + ": " + std::string(field.value()));
    }
    emit("OPEN " + target);

    // The read's error code is no proof either way: a TLS client that skips
    // close_notify turns a clean close into stream_truncated. Note the frame itself.
    bool got_close_frame = false;
    ws.control_callback([&got_close_frame](websocket::frame_type kind, beast::string_view) {
        if (kind == websocket::frame_type::close)
            got_close_frame = true;
    });
    switch (plan.mode) {
    case Mode::echo: co_await echo(ws, target); break;
    case Mode::script: co_await run_script(ws, target, plan.script, got_close_frame); break;
    case Mode::mute: co_await mute(ws); break;
    }
    report_end(ws, target, got_close_frame);
}

awaitable<void> handle(tcp::socket socket, ssl::context* tls)
{
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    beast::tcp_stream tcp_stream(std::move(socket));
    if (tls == nullptr) {
        co_await serve(std::move(tcp_stream));
        co_return;
    }
    ssl::stream<beast::tcp_stream> stream(std::move(tcp_stream), *tls);
    stream.next_layer().expires_after(30s);
    if (auto [ec] = co_await stream.async_handshake(ssl::stream_base::server, nothrow); ec)
        co_return;
    co_await serve(std::move(stream));
}

int usage()
{
    std::cerr << "usage: wsgather-test-server [--port N] [--tls CERT_PEM KEY_PEM]\n";
    return 2;
}

} // namespace

int main(int argc, char* argv[])
{
    unsigned short port = 0;
    std::optional<std::pair<std::string, std::string>> tls_files;
    for (int i = 1; i < argc; ++i) {
        std::string_view const arg = argv[i];
        if (arg == "--port" && i + 1 < argc) {
            auto p = parse_number<unsigned short>(argv[++i]);
            if (!p)
                return usage();
            port = *p;
        } else if (arg == "--tls" && i + 2 < argc) {
            tls_files.emplace(argv[i + 1], argv[i + 2]);
            i += 2;
        } else {
            return usage();
        }
    }

    // A test that stops reading our stdout must not kill us with SIGPIPE.
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    try {
        asio::io_context ioc(1);

        std::optional<ssl::context> tls;
        if (tls_files) {
            tls.emplace(ssl::context::tls_server);
            SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
            tls->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
            tls->use_certificate_chain_file(tls_files->first);
            tls->use_private_key_file(tls_files->second, ssl::context::pem);
        }

        tcp::acceptor acceptor(ioc);
        tcp::endpoint const endpoint(asio::ip::make_address_v4("127.0.0.1"), port);
        acceptor.open(endpoint.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(endpoint);
        acceptor.listen(asio::socket_base::max_listen_connections);
        emit("PORT " + std::to_string(acceptor.local_endpoint().port()));

        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });

        ssl::context* context = tls ? &*tls : nullptr;
        asio::co_spawn(ioc,
                       accept_loop(acceptor, [context](tcp::socket socket) { return handle(std::move(socket), context); }),
                       asio::detached);
        ioc.run();
    } catch (std::exception const& e) {
        std::cerr << "wsgather-test-server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
