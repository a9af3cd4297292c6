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

void ReadAheadSocket::set_coalescing(bool on) {
    if (coalesce_.count() == 0 || coalescing_ == on) return;
    coalescing_ = on;
    // While coalescing, arrivals of less than one read's worth do not make
    // the socket readable: the timer decides when to read. Setting it back
    // to 1 makes the socket readable at once if data came in between.
    int low_watermark = on ? static_cast<int>(read_ahead_bytes) : 1;
    boost::system::error_code ignored;
    socket_.set_option(boost::asio::socket_base::receive_low_watermark(low_watermark), ignored);
}

void ReadAheadSocket::arm_coalescing_timer() {
    coalescer_->timer.expires_after(coalesce_);
    coalescer_->timer.async_wait(
        [this, coalescer = coalescer_, generation = coalescer_->generation](boost::system::error_code ec) {
            // Only while that same wait is pending is the socket sure to exist.
            if (!ec && generation == coalescer->generation) set_coalescing(false);
        });
}

void ReadAheadSocket::disarm_coalescing_timer() {
    if (coalescer_) ++coalescer_->generation;
}

void teardown(boost::beast::role_type role, ReadAheadSocket& socket, boost::system::error_code& ec) {
    boost::beast::websocket::teardown(role, socket.next_layer(), ec);
}

}  // namespace wsgather
