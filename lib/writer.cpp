#include "writer.hpp"

#include <span>
#include <string>

namespace wsgather {
namespace {

// Output is written in blocks of about this size: larger ones only delay
// the lines already formatted.
constexpr std::size_t block_bytes = 1u << 20;

}  // namespace

WriteResult write_lines(Channel& channel, Sink& sink) {
    WriteResult result;
    Batch batch;
    std::string block;
    block.reserve(block_bytes + (64u << 10));
    auto flush = [&] {
        if (block.empty() || result.error) return;
        result.error = sink.write(std::span(&block, 1));
        block.clear();
    };
    while (!result.error && channel.receive(batch)) {
        batch.for_each([&](const Message& m) {
            m.envelope->append_line(m.seq, m.conn, m.received, m.kind, m.payload, block);
            if (block.size() >= block_bytes) flush();
        });
        flush();
        if (!result.error) result.lines += batch.size();
        if (block.capacity() > 2 * block_bytes) std::string().swap(block);
    }
    return result;
}

}  // namespace wsgather
