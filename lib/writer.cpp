#include "writer.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <vector>

namespace wsgather {
namespace {

namespace asio = boost::asio;

// Past this, gathering more lines only delays the ones already gathered.
constexpr std::size_t batch_bytes = 1u << 20;

asio::awaitable<std::error_code> write_batch(Sink& sink, const std::vector<std::string>& batch) {
    co_return sink.write(batch);
}

}  // namespace

asio::awaitable<WriteResult> write_lines(LineChannel& lines, Sink& sink, asio::any_io_executor blocking_executor) {
    WriteResult result;
    std::vector<std::string> batch;
    bool end = false;
    while (!end) {
        auto [ec, line] = co_await lines.async_receive(asio::as_tuple(asio::use_awaitable));
        if (ec || is_end_of_lines(line)) break;
        std::size_t bytes = line.size();
        batch.push_back(std::move(line));
        while (!end && bytes < batch_bytes &&
               lines.try_receive([&](boost::system::error_code, std::string more) {
                   if (is_end_of_lines(more)) {
                       end = true;
                       return;
                   }
                   bytes += more.size();
                   batch.push_back(std::move(more));
               })) {
        }
        result.error = co_await asio::co_spawn(blocking_executor, write_batch(sink, batch), asio::use_awaitable);
        if (result.error) co_return result;
        result.lines += batch.size();
        batch.clear();
    }
    co_return result;
}

}  // namespace wsgather
