#include "writer.hpp"

#include "output_block.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>

namespace wsgather {
namespace {

// Output is written in blocks of about this size: larger ones only delay
// the lines already formatted.
constexpr std::size_t block_bytes = 1u << 20;

// A feed's own block holds one batch's lines of that feed, so it stays
// small unless the feed is busy.
constexpr std::size_t kept_feed_block_bytes = 64u << 10;

// A block and the most of it one batch filled.
struct Block {
    OutputBlock lines;
    std::size_t used = 0;
};

// After a batch: a block's memory is kept while it is used (each new page
// costs a fault), and given back past `kept` bytes once a whole batch used
// less than a quarter of it, when a burst, or one long line, is over.
void trim(Block& block, std::size_t kept) {
    std::string& text = block.lines.text();
    if (text.capacity() > kept && block.used < text.capacity() / 4) std::string().swap(text);
    block.used = 0;
}

// A feed's own block and sink (--output-per-feed).
struct FeedOutput {
    Sink* sink;
    Block block;
};

}  // namespace

WriteResult write_lines(Channel& channel, Outputs& outputs) {
    WriteResult result;
    Batch batch;
    Block shared;  // for the sinks that take every line
    shared.lines.text().reserve(block_bytes + (64u << 10));
    std::unordered_map<const Envelope*, FeedOutput> feed_outputs;  // filled as feeds are first seen

    // Runs `step` on `sink` unless a sink has failed already; a failure
    // ends the run, naming the sink.
    auto attempt = [&result](Sink& sink, auto step) {
        if (result.error) return;
        result.error = step(sink);
        if (result.error) result.failed = sink.name();
    };
    auto on_every_sink = [&](auto step) {
        for (auto& sink : outputs.every_line) attempt(*sink, step);
        for (auto& [name, sink] : outputs.by_feed) attempt(*sink, step);
    };
    auto write = [&](Sink& sink, OutputBlock& block) {
        if (!block.empty()) attempt(sink, [&block](Sink& s) { return s.write(block.pieces()); });
    };
    auto empty = [](Block& block) {
        block.used = std::max(block.used, block.lines.text().size());
        block.lines.clear();
    };
    // A block may reference payloads in the batch: it is written before the
    // next batch replaces this one.
    auto flush_shared = [&] {
        for (auto& sink : outputs.every_line) write(*sink, shared.lines);
        empty(shared);
    };
    auto flush_feed = [&](FeedOutput& output) {
        write(*output.sink, output.block.lines);
        empty(output.block);
    };
    auto output_of = [&](const Envelope* envelope) -> FeedOutput& {
        auto it = feed_outputs.find(envelope);
        if (it == feed_outputs.end())
            it = feed_outputs.emplace(envelope, FeedOutput{outputs.by_feed.at(envelope->name()).get(), {}}).first;
        return it->second;
    };

    while (!result.error && channel.receive(batch)) {
        if (outputs.reopen_requested.exchange(false)) on_every_sink([](Sink& sink) { return sink.reopen(); });
        batch.for_each([&](const Message& m) {
            if (!outputs.every_line.empty()) {
                m.envelope->append_line(m.seq, m.conn, m.received, m.kind, m.payload, shared.lines);
                if (shared.lines.size() >= block_bytes) flush_shared();
            }
            if (!outputs.by_feed.empty()) {
                FeedOutput& output = output_of(m.envelope);
                m.envelope->append_line(m.seq, m.conn, m.received, m.kind, m.payload, output.block.lines);
                if (output.block.lines.size() >= block_bytes) flush_feed(output);
            }
        });
        flush_shared();
        trim(shared, 2 * block_bytes);
        for (auto& [envelope, output] : feed_outputs) {
            flush_feed(output);
            trim(output.block, kept_feed_block_bytes);
        }
        if (!result.error) result.lines += batch.size();
    }
    // A clean end: what was written is on disk before wsgather says it is done.
    on_every_sink([](Sink& sink) { return sink.sync(); });
    return result;
}

}  // namespace wsgather
