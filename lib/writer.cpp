#include "writer.hpp"

#include "output_block.hpp"

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
    OutputBlock block;
    block.text().reserve(block_bytes + (64u << 10));
    // The block may reference payloads in the batch: it is written before
    // the next batch replaces this one.
    auto flush = [&] {
        if (block.empty() || result.error) return;
        result.error = sink.write(block.pieces());
        block.clear();
    };
    while (!result.error && channel.receive(batch)) {
        batch.for_each([&](const Message& m) {
            m.envelope->append_line(m.seq, m.conn, m.received, m.kind, m.payload, block);
            if (block.size() >= block_bytes) flush();
        });
        flush();
        if (!result.error) result.lines += batch.size();
        if (block.text().capacity() > 2 * block_bytes) std::string().swap(block.text());
    }
    return result;
}

}  // namespace wsgather
