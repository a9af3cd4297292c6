// Small pieces shared by the project's own WebSocket peers: the test server
// (tests/server), and the load server and ceiling client of bench/. The demo
// server in examples/ stays self-contained, as an example should.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

namespace wsgather::peer {

// One line on stdout, flushed at once: tests and the benchmark driver block
// on these lines.
inline void emit(std::string const& line)
{
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

// The whole of `text` as a number, or nothing.
template <class T>
std::optional<T> parse_number(std::string_view text)
{
    T value{};
    auto const [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

// Thousands of connections need far more descriptors than the usual soft
// limit of 1024: take the hard limit.
inline void raise_fd_limit()
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
            std::perror("setrlimit");
    }
}

// The completion of each connection's coroutine: one broken connection is
// logged, and must not take the server down.
inline void log_failure(std::exception_ptr e)
{
    if (!e)
        return;
    try {
        std::rethrow_exception(e);
    } catch (std::exception const& x) {
        std::cerr << "connection: " << x.what() << '\n';
    }
}

// Accepts connections until the acceptor is closed and runs serve(socket),
// an awaitable<void>, for each.
template <class Serve>
boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor, Serve serve)
{
    constexpr auto nothrow = boost::asio::as_tuple(boost::asio::use_awaitable);
    boost::asio::steady_timer backoff(acceptor.get_executor());
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(nothrow);
        if (ec == boost::asio::error::operation_aborted)
            co_return;
        if (ec) {
            // Typically out of file descriptors: pause rather than spin, keep serving.
            std::cerr << "accept: " << ec.message() << '\n';
            backoff.expires_after(std::chrono::milliseconds(50));
            co_await backoff.async_wait(nothrow);
            continue;
        }
        boost::asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), log_failure);
    }
}

} // namespace wsgather::peer
