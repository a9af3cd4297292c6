#include "read_ahead.hpp"

namespace wsgather {
namespace {

// The read-ahead buffer not lent to any socket: one per I/O thread, so a
// thousand feeds that each read a little at a time share it.
thread_local std::unique_ptr<char[]> spare_buffer;

}  // namespace

void ReadAheadSocket::borrow_buffer() {
    if (ahead_) return;
    ahead_ = spare_buffer ? std::move(spare_buffer) : std::make_unique_for_overwrite<char[]>(read_ahead_bytes);
}

void ReadAheadSocket::return_buffer() {
    ahead_begin_ = ahead_end_ = 0;
    if (!spare_buffer) spare_buffer = std::move(ahead_);
    else ahead_.reset();
}

void teardown(boost::beast::role_type role, ReadAheadSocket& socket, boost::system::error_code& ec) {
    boost::beast::websocket::teardown(role, socket.next_layer(), ec);
}

}  // namespace wsgather
