// wsgather-demo-server: a few synthetic market feeds to try wsgather on.
//
//   wsgather-demo-server [--port N]
//
// Serves ws://127.0.0.1:<port>/trades, /quotes, /news and /heartbeat. The data
// is made up by a fixed-seed PRNG, so every run shows the same stream.

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <deque>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using namespace std::chrono_literals;

namespace {

// Errors as values: a client going away is routine, not an exception.
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

std::string fixed(double value, int decimals)
{
    std::array<char, 32> text{};
    auto const end = std::to_chars(text.data(), text.data() + text.size(), value,
                                   std::chars_format::fixed, decimals).ptr;
    return std::string(text.data(), end);
}

std::string json_quote(std::string_view text)
{
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

struct Symbol {
    std::string_view name;
    double price;
};

// A feed is a pace plus a generator; each connection gets its own copy.
struct Feed {
    std::chrono::milliseconds period;
    std::function<std::string()> next;
};

std::optional<Feed> make_feed(std::string_view path)
{
    std::mt19937 rng(20240501);
    std::array symbols{Symbol{"BTC-USD", 64000.0}, Symbol{"ETH-USD", 3400.0}, Symbol{"SOL-USD", 150.0}};
    // Prices take small random steps, so consecutive messages look related.
    auto walk = [](std::mt19937& rng, auto& symbols) -> Symbol& {
        auto& s = symbols[std::uniform_int_distribution<std::size_t>(0, symbols.size() - 1)(rng)];
        s.price *= 1.0 + std::normal_distribution(0.0, 0.0005)(rng);
        return s;
    };

    if (path == "/trades")
        return Feed{200ms, [=, id = 0]() mutable {
            Symbol const& s = walk(rng, symbols);
            bool const buy = std::bernoulli_distribution(0.5)(rng);
            double const qty = std::uniform_real_distribution(0.001, 2.0)(rng);
            return R"({"type":"trade","symbol":")" + std::string(s.name) + R"(","price":)" + fixed(s.price, 2) +
                   R"(,"qty":)" + fixed(qty, 3) + R"(,"side":")" + (buy ? "buy" : "sell") +
                   R"(","id":)" + std::to_string(++id) + "}";
        }};
    if (path == "/quotes")
        return Feed{250ms, [=]() mutable {
            Symbol const& s = walk(rng, symbols);
            double const half_spread = s.price * std::uniform_real_distribution(0.000005, 0.00005)(rng);
            std::uniform_real_distribution size(0.1, 5.0);
            return R"({"type":"quote","symbol":")" + std::string(s.name) + R"(","bid":)" +
                   fixed(s.price - half_spread, 2) + R"(,"ask":)" + fixed(s.price + half_spread, 2) +
                   R"(,"bid_size":)" + fixed(size(rng), 2) + R"(,"ask_size":)" + fixed(size(rng), 2) + "}";
        }};
    if (path == "/news")
        // Plain text on purpose: shows how wsgather carries non-JSON messages.
        return Feed{2000ms, [=]() mutable {
            static constexpr std::array<std::string_view, 6> headlines{
                "Markets steady ahead of central bank decision",
                "Crypto volumes climb as volatility returns",
                "Exchange reports record daily active traders",
                "Analysts split on outlook for the second half",
                "Stablecoin supply edges higher for third week",
                "Regulators publish draft rules on digital asset custody",
            };
            return std::string(headlines[std::uniform_int_distribution<std::size_t>(0, headlines.size() - 1)(rng)]);
        }};
    if (path == "/heartbeat")
        return Feed{1000ms, [n = 0]() mutable { return R"({"type":"heartbeat","n":)" + std::to_string(++n) + "}"; }};
    return std::nullopt;
}

using Websocket = websocket::stream<beast::tcp_stream>;

// Beast allows one write at a time, so the reader never writes: it leaves its
// acks here and wakes the writer.
struct Outbox {
    asio::steady_timer wake;
    std::deque<std::string> acks;
    bool closed = false;
};

awaitable<void> read_requests(Websocket& ws, Outbox& out)
{
    // Keeping a read pending is also what answers pings and completes a close.
    beast::flat_buffer buffer;
    while (true) {
        auto [ec, n] = co_await ws.async_read(buffer, nothrow);
        if (ec)
            break;
        if (ws.got_text()) {
            out.acks.push_back(R"({"type":"subscribed","request":)" +
                               json_quote(beast::buffers_to_string(buffer.data())) + "}");
            out.wake.cancel();
        }
        buffer.consume(buffer.size());
    }
    out.closed = true;
    out.wake.cancel();
}

awaitable<void> write_feed(Websocket& ws, Feed& feed, Outbox& out)
{
    auto due = std::chrono::steady_clock::now();
    while (true) {
        while (!out.acks.empty()) {
            std::string const ack = std::move(out.acks.front());
            out.acks.pop_front();
            if (auto [ec, n] = co_await ws.async_write(asio::buffer(ack), nothrow); ec)
                co_return;
        }
        if (out.closed)
            co_return;
        if (std::chrono::steady_clock::now() >= due) {
            std::string const message = feed.next();
            if (auto [ec, n] = co_await ws.async_write(asio::buffer(message), nothrow); ec)
                co_return;
            due += feed.period;
            continue;
        }
        out.wake.expires_at(due);
        co_await out.wake.async_wait(nothrow); // ends early when the reader has news
    }
}

awaitable<void> session(tcp::socket socket)
{
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    stream.expires_after(30s);
    if (auto [ec, n] = co_await http::async_read(stream, buffer, req, nothrow); ec)
        co_return;

    std::string_view const target = req.target();
    auto feed = make_feed(target.substr(0, target.find('?')));
    if (!feed) {
        http::response<http::string_body> res(http::status::not_found, req.version());
        res.set(http::field::content_type, "text/plain");
        res.body() = "no such feed; try /trades /quotes /news /heartbeat\n";
        res.keep_alive(false);
        res.prepare_payload();
        co_await http::async_write(stream, res, nothrow);
        co_return;
    }

    // The WebSocket has its own timeouts; the TCP stream's would fight them.
    stream.expires_never();
    Websocket ws(std::move(stream));
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    if (auto [ec] = co_await ws.async_accept(req, nothrow); ec)
        co_return;

    Outbox out{asio::steady_timer(ws.get_executor()), {}, false};
    co_await (read_requests(ws, out) && write_feed(ws, *feed, out));
}

awaitable<void> accept_loop(tcp::acceptor& acceptor)
{
    asio::steady_timer backoff(acceptor.get_executor());
    while (true) {
        auto [ec, socket] = co_await acceptor.async_accept(nothrow);
        if (ec == asio::error::operation_aborted)
            co_return;
        if (ec) { // e.g. out of file descriptors: pause instead of spinning
            backoff.expires_after(100ms);
            co_await backoff.async_wait(nothrow);
            continue;
        }
        asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
    }
}

} // namespace

int main(int argc, char* argv[])
{
    unsigned short port = 0;
    if (argc == 3 && std::string_view(argv[1]) == "--port") {
        std::string_view const arg = argv[2];
        if (std::from_chars(arg.data(), arg.data() + arg.size(), port).ptr != arg.data() + arg.size()) {
            std::cerr << "bad port: " << arg << '\n';
            return 2;
        }
    } else if (argc != 1) {
        std::cerr << "usage: wsgather-demo-server [--port N]\n";
        return 2;
    }

    try {
        asio::io_context ioc(1);
        // Loopback only: this is a demo, not something to expose.
        tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port));
        auto const bound = acceptor.local_endpoint().port();
        std::cout << "PORT " << bound << std::endl;
        std::cerr << "demo feeds: ws://127.0.0.1:" << bound << "/trades /quotes /news /heartbeat" << std::endl;

        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&ioc](beast::error_code, int) { ioc.stop(); });
        asio::co_spawn(ioc, accept_loop(acceptor), asio::detached);
        ioc.run();
    } catch (std::exception const& e) {
        std::cerr << "wsgather-demo-server: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
