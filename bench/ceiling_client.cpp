// wsgather-bench-ceiling: the practical ceiling for a Beast client.
//
//   wsgather-bench-ceiling [--latency FILE] ws://HOST:PORT/TARGET...
//
// Connects to every URL at once (one thread, one coroutine each), reads whole
// messages, counts and discards them. Prints "<url> <messages>" per URL, in
// command-line order, when all have ended (or on SIGINT/SIGTERM). Exit status
// 0 when every server closed with code 1000, 1 otherwise, 2 bad arguments.
//
// With --latency, it also takes each message's latency as it reads it
// (latency.hpp) and writes them to FILE at the end: W5's floor, a client
// that writes no output.

#include "latency.hpp"
#include "peer_support.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

using wsgather::peer::raise_fd_limit;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace urls = boost::urls;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

struct Feed {
    std::string url;
    std::string host;   // for the Host header: as written, port included
    std::string target; // path and query
    std::pair<std::string, std::string> address; // host and port to resolve
    tcp::resolver::results_type endpoints;
    std::uint64_t messages = 0;
    bool closed_normally = false;
};

std::vector<std::int64_t>* latencies = nullptr; // with --latency

void fail(Feed const& feed, char const* what, beast::error_code ec)
{
    std::cerr << feed.url << ": " << what << ": " << ec.message() << '\n';
}

awaitable<void> run(Feed& feed)
{
    websocket::stream<beast::tcp_stream> ws(co_await asio::this_coro::executor);
    beast::get_lowest_layer(ws).expires_after(30s);
    if (auto [ec, ep] = co_await beast::get_lowest_layer(ws).async_connect(feed.endpoints, nothrow); ec) {
        fail(feed, "connect", ec);
        co_return;
    }
    // The WebSocket has its own timeouts; the TCP stream's would fight them.
    beast::get_lowest_layer(ws).expires_never();
    // Beast's defaults have no timeouts at all; this bounds the handshake and
    // the close (30 s) and leaves the read path alone: no idle timer, no pings.
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws.read_message_max(64 * 1024 * 1024);
    if (auto [ec] = co_await ws.async_handshake(feed.host, feed.target, nothrow); ec) {
        fail(feed, "handshake", ec);
        co_return;
    }

    beast::flat_buffer buffer;
    for (;;) {
        auto [ec, n] = co_await ws.async_read(buffer, nothrow);
        if (ec == websocket::error::closed) {
            feed.closed_normally = ws.reason().code == websocket::close_code::normal;
            if (!feed.closed_normally)
                std::cerr << feed.url << ": closed with code " << ws.reason().code << '\n';
            co_return;
        }
        if (ec) {
            fail(feed, "read", ec);
            co_return;
        }
        ++feed.messages;
        if (latencies) {
            auto const arrived = static_cast<std::int64_t>(wsgather::bench::now_us());
            auto const data = buffer.cdata();
            std::int64_t const sent = wsgather::bench::sent_us({static_cast<char const*>(data.data()), data.size()});
            if (sent >= 0)
                latencies->push_back(arrived - sent);
        }
        buffer.consume(buffer.size());
    }
}

} // namespace

int main(int argc, char* argv[])
{
    int first_url = 1;
    char const* latency_path = nullptr;
    if (argc > 2 && std::string_view(argv[1]) == "--latency") {
        latency_path = argv[2];
        first_url = 3;
    }
    if (first_url >= argc) {
        std::cerr << "usage: wsgather-bench-ceiling [--latency FILE] ws://HOST:PORT/TARGET...\n";
        return 2;
    }
    raise_fd_limit();
    std::vector<std::int64_t> measured;
    if (latency_path) {
        measured.reserve(1u << 20);
        latencies = &measured;
    }

    std::vector<Feed> feeds;
    for (int i = first_url; i < argc; ++i) {
        auto const parsed = urls::parse_uri(argv[i]);
        if (!parsed || parsed->scheme() != "ws" || !parsed->has_authority() || parsed->host().empty()) {
            std::cerr << "not a ws:// URL: " << argv[i] << '\n';
            return 2;
        }
        Feed feed;
        feed.url = argv[i];
        feed.host = parsed->encoded_host_and_port();
        feed.target = parsed->encoded_target();
        // Boost.URL gives an empty target for ws://host:port.
        if (feed.target.empty() || feed.target.front() != '/')
            feed.target.insert(0, 1, '/');
        feed.address = {parsed->host_address(), parsed->has_port() ? std::string(parsed->port()) : "80"};
        feeds.push_back(std::move(feed));
    }

    try {
        asio::io_context ioc(1);

        // Resolved up front, once per host and port: async_resolve would add a
        // thread, and ten thousand feeds usually share one address.
        tcp::resolver resolver(ioc);
        std::map<std::pair<std::string, std::string>, tcp::resolver::results_type> resolved;
        for (auto& feed : feeds) {
            auto it = resolved.find(feed.address);
            if (it == resolved.end()) {
                beast::error_code ec;
                auto results = resolver.resolve(feed.address.first, feed.address.second, ec);
                if (ec) {
                    std::cerr << feed.url << ": resolve: " << ec.message() << '\n';
                    return 1;
                }
                it = resolved.emplace(feed.address, std::move(results)).first;
            }
            feed.endpoints = it->second;
        }

        // Interrupted runs still report what they counted.
        asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&ioc](beast::error_code ec, int) {
            if (!ec)
                ioc.stop();
        });
        std::size_t running = feeds.size();
        for (auto& feed : feeds) {
            asio::co_spawn(ioc, run(feed), [&](std::exception_ptr e) {
                if (e) {
                    try {
                        std::rethrow_exception(e);
                    } catch (std::exception const& x) {
                        std::cerr << feed.url << ": " << x.what() << '\n';
                    }
                }
                if (--running == 0)
                    signals.cancel();
            });
        }
        ioc.run();
    } catch (std::exception const& e) {
        std::cerr << "wsgather-bench-ceiling: " << e.what() << '\n';
        return 1;
    }

    bool all_normal = true;
    std::string out;
    for (auto const& feed : feeds) {
        out += feed.url + ' ' + std::to_string(feed.messages) + '\n';
        all_normal = all_normal && feed.closed_normally;
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    if (latency_path) {
        std::FILE* file = std::fopen(latency_path, "w");
        bool const written = file && wsgather::bench::write_latencies(file, measured);
        if (!file || std::fclose(file) != 0 || !written) {
            std::cerr << "wsgather-bench-ceiling: " << latency_path << ": cannot write\n";
            return 1;
        }
    }
    return all_normal ? 0 : 1;
}
