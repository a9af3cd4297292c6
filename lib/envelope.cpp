#include "envelope.hpp"

#include "base64.hpp"
#include "json_compact.hpp"
#include "utf8.hpp"

#include <charconv>
#include <chrono>

namespace wsgather {
namespace {

constexpr std::string_view seq_key = "\"seq\":";

using namespace std::chrono;

void append_number(std::uint64_t n, std::string& out) {
    char digits[20];
    auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
    out.append(digits, end);
}

// Writes `value` as exactly `width` decimal digits.
void put_digits(char* dst, unsigned value, int width) {
    for (int i = width - 1; i >= 0; --i) {
        dst[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
}

// Calendar arithmetic rather than gmtime_r, which in glibc reads the time
// zone file on first use though UTC needs none: a file opened and parsed at
// every start (W7, docs/performance.md).
void format_date(std::int64_t second, char (&date)[19]) {
    sys_seconds t{seconds{second}};
    sys_days day = floor<days>(t);
    year_month_day ymd{day};
    hh_mm_ss time{t - day};
    put_digits(date, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
    date[4] = '-';
    put_digits(date + 5, static_cast<unsigned>(ymd.month()), 2);
    date[7] = '-';
    put_digits(date + 8, static_cast<unsigned>(ymd.day()), 2);
    date[10] = 'T';
    put_digits(date + 11, static_cast<unsigned>(time.hours().count()), 2);
    date[13] = ':';
    put_digits(date + 14, static_cast<unsigned>(time.minutes().count()), 2);
    date[16] = ':';
    put_digits(date + 17, static_cast<unsigned>(time.seconds().count()), 2);
}

void append_fraction(std::int64_t micros, std::string& out) {
    char fraction[8] = {'.'};
    put_digits(fraction + 1, static_cast<unsigned>(micros), 6);
    fraction[7] = 'Z';
    out.append(fraction, sizeof fraction);
}

// Splits a time point into whole seconds and microseconds, flooring so that
// times before 1970 still get a fraction in [0, 1e6).
std::pair<std::int64_t, std::int64_t> split_time(system_clock::time_point t) {
    std::int64_t us = duration_cast<microseconds>(t.time_since_epoch()).count();
    std::int64_t second = us / 1'000'000, micros = us % 1'000'000;
    if (micros < 0) {
        micros += 1'000'000;
        second -= 1;
    }
    return {second, micros};
}

}  // namespace

void append_json_string(std::string_view text, std::string& out) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t run = 0;  // start of the bytes not yet copied
    std::size_t i = 0;
    while ((i = skip_plain_json(text, i)) < text.size()) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            std::size_t length = utf8_sequence_length(text, i);
            if (length != 0) {
                i += length;
                continue;
            }
        }
        out.append(text.data() + run, i - run);
        switch (c) {
        case '"': out.append("\\\""); break;
        case '\\': out.append("\\\\"); break;
        case '\n': out.append("\\n"); break;
        case '\r': out.append("\\r"); break;
        case '\t': out.append("\\t"); break;
        case '\b': out.append("\\b"); break;
        case '\f': out.append("\\f"); break;
        default:
            if (c < 0x20) {
                const char escape[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                out.append(escape, sizeof escape);
            } else {
                out.append("\\ufffd");  // a byte that is not well-formed UTF-8
            }
        }
        run = ++i;
    }
    out.append(text.data() + run, text.size() - run);
    out.push_back('"');
}

void append_timestamp(system_clock::time_point t, std::string& out) {
    auto [second, micros] = split_time(t);
    char date[19];
    format_date(second, date);
    out.append(date, sizeof date);
    append_fraction(micros, out);
}

Envelope::Envelope(Format format, std::string_view feed_name) : format_(format), name_(feed_name) {
    head_ = "{\"feed\":";
    append_json_string(feed_name, head_);
    head_ += ",";
    head_ += seq_key;
}

void Envelope::append_time(system_clock::time_point t, std::string& out) {
    auto [second, micros] = split_time(t);
    if (second != cached_second_) {
        format_date(second, cached_date_);
        cached_second_ = second;
    }
    out.append(cached_date_, sizeof cached_date_);
    append_fraction(micros, out);
}

void Envelope::append_line(std::uint64_t seq, std::uint64_t conn, system_clock::time_point received,
                           MessageKind kind, std::string_view payload, OutputBlock& block) {
    std::string& out = block.text();
    bool large = payload.size() >= OutputBlock::reference_min_bytes;
    if (format_ == Format::raw) {
        if (large) block.append_reference(payload);
        else out.append(payload);
        out.push_back('\n');
        return;
    }
    if (kind == MessageKind::event) {
        out.append(std::string_view(head_).substr(0, head_.size() - seq_key.size()));
        out.append("\"conn\":");
        append_number(conn, out);
        out.append(",\"ts\":\"");
        append_time(received, out);
        out.append("\",\"type\":\"event\",\"data\":");
        out.append(payload);
        out.append("}\n");
        return;
    }
    out.append(head_);
    append_number(seq, out);
    out.append(",\"conn\":");
    append_number(conn, out);
    out.append(",\"ts\":\"");
    append_time(received, out);
    if (kind == MessageKind::binary) {
        out.append("\",\"type\":\"binary\",\"data\":\"");
        append_base64(payload, out);
        out.push_back('"');
    } else {
        // A large payload is checked first, and referenced when it needs no
        // change; a small one is checked and copied in the same pass.
        JsonShape shape = large ? check_json(payload) : JsonShape::spaced;
        if (shape == JsonShape::compact) {
            out.append("\",\"type\":\"json\",\"data\":");
            block.append_reference(payload);
        } else {
            out.append("\",\"type\":");
            std::size_t type_at = out.size();
            out.append("\"json\",\"data\":");
            if (shape == JsonShape::invalid || !append_compact_json(payload, out)) {
                out.resize(type_at);
                out.append("\"text\",\"data\":");
                append_json_string(payload, out);
            }
        }
    }
    out.append("}\n");
}

}  // namespace wsgather
