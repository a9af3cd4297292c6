// What the feeds run on: their executor, and the coroutines, timers and
// sockets bound to it by its concrete type.
//
// Why not Asio's default, any_io_executor: it is a 56-byte type-erased
// copy, and an open feed holds a dozen of them (its socket, its timers, its
// coroutine frames, every layer of a pending read), each copied, destroyed
// and called through a function pointer on every completion. FeedExecutor
// is 16 bytes and its calls inline (docs/performance.md, W6).
#pragma once

#include "trampoline.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

namespace wsgather {

// The I/O thread's io_context, through a trampoline.
using FeedExecutor = Trampoline<boost::asio::io_context::executor_type>;

template <class T = void>
using FeedTask = boost::asio::awaitable<T, FeedExecutor>;

using FeedTimer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                    boost::asio::wait_traits<std::chrono::steady_clock>, FeedExecutor>;
using FeedSocket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, FeedExecutor>;
using FeedResolver = boost::asio::ip::basic_resolver<boost::asio::ip::tcp, FeedExecutor>;

// `co_await op(..., use_tuple)` in a FeedTask: errors come back as values.
inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable_t<FeedExecutor>{});

}  // namespace wsgather
