// Output lines: the jsonl envelope, JSON string escaping, base64 and timestamps.
#include "base64.hpp"
#include "envelope.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <span>
#include <string>

using namespace wsgather;
using std::chrono::microseconds;
using std::chrono::system_clock;

namespace {

system_clock::time_point at_us(long long us) { return system_clock::time_point(microseconds(us)); }

const system_clock::time_point t0 = at_us(1'700'000'000'123'456);  // 2023-11-14T22:13:20.123456Z

// One line on its own, as the writer would append it to its block.
std::string line_of(Envelope& envelope, std::uint64_t seq, std::uint64_t conn, system_clock::time_point received,
                    MessageKind kind, std::string_view payload) {
    OutputBlock block;
    envelope.append_line(seq, conn, received, kind, payload, block);
    std::string out;
    for (std::string_view piece : block.pieces()) out += piece;
    return out;
}

std::string jsonl(std::string_view payload, MessageKind kind = MessageKind::text, std::string_view feed = "f") {
    Envelope envelope(Format::jsonl, feed);
    return line_of(envelope, 1, 1, t0, kind, payload);
}

std::string json_string(std::string_view text) {
    std::string out;
    append_json_string(text, out);
    return out;
}

std::string base64(std::string_view bytes) {
    std::string out;
    append_base64(bytes, out);
    return out;
}

std::string timestamp(system_clock::time_point t) {
    std::string out;
    append_timestamp(t, out);
    return out;
}

// The line minus its trailing newline, parsed by an independent parser.
nlohmann::json parse_line(const std::string& line) {
    REQUIRE(!line.empty());
    REQUIRE(line.back() == '\n');
    REQUIRE(line.find('\n') == line.size() - 1);
    return nlohmann::json::parse(line.substr(0, line.size() - 1));
}

}  // namespace

TEST_CASE("envelope wraps a JSON payload as type json") {
    Envelope envelope(Format::jsonl, "trades");
    std::string line = line_of(envelope, 7, 2, t0, MessageKind::text, R"({"px":1.50,"q":[1,2]})");
    CHECK(line == R"({"feed":"trades","seq":7,"conn":2,"ts":"2023-11-14T22:13:20.123456Z","type":"json","data":{"px":1.50,"q":[1,2]}})"
                  "\n");
}

TEST_CASE("envelope puts a pretty-printed JSON payload on one line") {
    std::string line = jsonl("{\n  \"a\": 1,\n\t\"b\": [\n    \"x y\",\n    null\n  ]\n}\n");
    CHECK(line == R"({"feed":"f","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z","type":"json","data":{"a":1,"b":["x y",null]}})"
                  "\n");
}

TEST_CASE("envelope wraps JSON scalars as type json") {
    CHECK(jsonl("42") == R"({"feed":"f","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z","type":"json","data":42})"
                         "\n");
    CHECK(jsonl(R"("hi")") ==
          R"({"feed":"f","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z","type":"json","data":"hi"})"
          "\n");
}

TEST_CASE("envelope escapes text that is not JSON") {
    std::string line = jsonl("say \"hi\" C:\\dir\n\tend\x01\x7f");
    CHECK(line ==
          R"({"feed":"f","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z","type":"text","data":"say \"hi\" C:\\dir\n\tend\u0001)"
          "\x7f\"}\n");
}

TEST_CASE("envelope replaces each byte of invalid UTF-8 in text with U+FFFD") {
    std::string line = jsonl("a\xff" "b\xe2\x82" "c\xc3\xa9");
    CHECK(line ==
          R"({"feed":"f","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z","type":"text","data":"a\ufffdb\ufffd\ufffdc)"
          "\xc3\xa9\"}\n");
}

TEST_CASE("envelope writes empty text as an empty string") {
    CHECK(jsonl("") == R"({"feed":"f","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z","type":"text","data":""})"
                       "\n");
    CHECK(jsonl("   ") ==
          R"({"feed":"f","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z","type":"text","data":"   "})"
          "\n");
}

TEST_CASE("envelope writes binary payloads as base64") {
    std::string line = jsonl(std::string("\x00\x01\xff", 3), MessageKind::binary);
    CHECK(line == R"({"feed":"f","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z","type":"binary","data":"AAH/"})"
                  "\n");
    // Binary that happens to be JSON is still binary.
    CHECK(jsonl("{}", MessageKind::binary) ==
          R"({"feed":"f","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z","type":"binary","data":"e30="})"
          "\n");
    CHECK(jsonl("", MessageKind::binary) ==
          R"({"feed":"f","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z","type":"binary","data":""})"
          "\n");
}

TEST_CASE("base64 matches the RFC 4648 test vectors") {
    CHECK(base64("") == "");
    CHECK(base64("f") == "Zg==");
    CHECK(base64("fo") == "Zm8=");
    CHECK(base64("foo") == "Zm9v");
    CHECK(base64("foob") == "Zm9vYg==");
    CHECK(base64("fooba") == "Zm9vYmE=");
    CHECK(base64("foobar") == "Zm9vYmFy");
    CHECK(base64(std::string("\x00\x01\xff", 3)) == "AAH/");
    CHECK(base64(std::string("\xfb\xff", 2)) == "+/8=");
    CHECK(base64(std::string(1, '\0')) == "AA==");
}

TEST_CASE("base64 appends to what out already holds") {
    std::string out = "x:";
    append_base64("foobar", out);
    CHECK(out == "x:Zm9vYmFy");
}

TEST_CASE("envelope writes an event without seq, its data as given") {
    Envelope envelope(Format::jsonl, "a\"b");
    std::string line = line_of(envelope, 0, 3, t0, MessageKind::event, R"({"event":"connected","url":"ws://h/"})");
    CHECK(line == R"({"feed":"a\"b","conn":3,"ts":"2023-11-14T22:13:20.123456Z","type":"event","data":{"event":"connected","url":"ws://h/"}})"
                  "\n");
    CHECK(parse_line(line)["data"]["event"] == "connected");
}

TEST_CASE("envelope escapes the feed name") {
    std::string line = jsonl("1", MessageKind::text, "a\"b\\c");
    CHECK(line == R"({"feed":"a\"b\\c","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z","type":"json","data":1})"
                  "\n");
    CHECK(parse_line(line)["feed"] == "a\"b\\c");
}

TEST_CASE("envelope writes seq and conn as plain decimal numbers") {
    Envelope envelope(Format::jsonl, "f");
    CHECK(line_of(envelope, 0, 0, t0, MessageKind::text, "1") ==
          R"({"feed":"f","seq":0,"conn":0,"ts":"2023-11-14T22:13:20.123456Z","type":"json","data":1})"
          "\n");
    CHECK(line_of(envelope, 18446744073709551615ull, 1234567890, t0, MessageKind::text, "1") ==
          R"({"feed":"f","seq":18446744073709551615,"conn":1234567890,"ts":"2023-11-14T22:13:20.123456Z","type":"json","data":1})"
          "\n");
}

TEST_CASE("timestamps are RFC 3339 UTC with microseconds") {
    CHECK(timestamp(at_us(0)) == "1970-01-01T00:00:00.000000Z");
    CHECK(timestamp(at_us(1'700'000'000'123'456)) == "2023-11-14T22:13:20.123456Z");
    CHECK(timestamp(at_us(951'782'400'000'001)) == "2000-02-29T00:00:00.000001Z");  // leap day
    CHECK(timestamp(at_us(4'102'444'799'999'999)) == "2099-12-31T23:59:59.999999Z");
}

TEST_CASE("timestamps before 1970 floor to the earlier second") {
    CHECK(timestamp(at_us(-1)) == "1969-12-31T23:59:59.999999Z");
    CHECK(timestamp(at_us(-1'000'000)) == "1969-12-31T23:59:59.000000Z");
    CHECK(timestamp(at_us(-1'500'000)) == "1969-12-31T23:59:58.500000Z");
}

TEST_CASE("timestamps drop digits past the microsecond") {
    auto t = system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(std::chrono::nanoseconds(1'999)));
    CHECK(timestamp(t) == "1970-01-01T00:00:00.000001Z");
}

TEST_CASE("envelope timestamps follow each message across seconds") {
    // The envelope caches the date of the last second; each line must still
    // show its own time, also when the clock steps back.
    Envelope envelope(Format::jsonl, "f");
    auto ts_of = [&](system_clock::time_point t) {
        return parse_line(line_of(envelope, 1, 1, t, MessageKind::text, "1"))["ts"].get<std::string>();
    };
    CHECK(ts_of(at_us(0)) == "1970-01-01T00:00:00.000000Z");
    CHECK(ts_of(at_us(999'999)) == "1970-01-01T00:00:00.999999Z");
    CHECK(ts_of(at_us(1'000'000)) == "1970-01-01T00:00:01.000000Z");
    CHECK(ts_of(at_us(1'700'000'000'123'456)) == "2023-11-14T22:13:20.123456Z");
    CHECK(ts_of(at_us(1'700'000'000'654'321)) == "2023-11-14T22:13:20.654321Z");
    CHECK(ts_of(at_us(1'699'999'999'000'000)) == "2023-11-14T22:13:19.000000Z");
    CHECK(ts_of(at_us(-1'500'000)) == "1969-12-31T23:59:58.500000Z");
}

// Regression: the "nothing cached" mark must not be a real second; -1 is
// 1969-12-31T23:59:59, and a fresh Envelope once wrote 19 NUL bytes as its date.
TEST_CASE("envelope timestamp of the last second before 1970 on a fresh envelope") {
    Envelope envelope(Format::jsonl, "f");
    std::string line = line_of(envelope, 1, 1, at_us(-1), MessageKind::text, "1");
    CHECK(line == R"({"feed":"f","seq":1,"conn":1,"ts":"1969-12-31T23:59:59.999999Z","type":"json","data":1})"
                  "\n");
}

TEST_CASE("JSON strings escape quotes, backslashes and control characters") {
    CHECK(json_string("") == "\"\"");
    CHECK(json_string("plain") == "\"plain\"");
    CHECK(json_string("\"\\") == R"("\"\\")");
    CHECK(json_string("\n\r\t\b\f") == R"("\n\r\t\b\f")");
    CHECK(json_string(std::string("\x00\x01\x1f", 3)) == R"("\u0000\u0001\u001f")");
    CHECK(json_string("\x7f/") == "\"\x7f/\"");
    CHECK(json_string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") == "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
}

TEST_CASE("JSON strings replace ill-formed UTF-8 with U+FFFD") {
    CHECK(json_string("\xff") == R"("\ufffd")");
    CHECK(json_string("\xc0\xaf") == R"("\ufffd\ufffd")");          // overlong '/'
    CHECK(json_string("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");  // surrogate U+D800
    CHECK(json_string("\xf4\x90\x80\x80") == R"("\ufffd\ufffd\ufffd\ufffd")");  // past U+10FFFF
    CHECK(json_string("x\xe2\x82") == R"("x\ufffd\ufffd")");  // cut short at the end
    CHECK(json_string("\x80" "a") == R"("\ufffda")");
}

TEST_CASE("raw format writes the payload and a newline") {
    Envelope envelope(Format::raw, "f");
    CHECK(line_of(envelope, 1, 1, t0, MessageKind::text, "{ \"a\" : 1 }") == "{ \"a\" : 1 }\n");
    CHECK(line_of(envelope, 2, 1, t0, MessageKind::text, "not json") == "not json\n");
    CHECK(line_of(envelope, 3, 1, t0, MessageKind::binary, std::string("\x00\xff", 2)) == std::string("\x00\xff\n", 3));
    CHECK(line_of(envelope, 4, 1, t0, MessageKind::text, "") == "\n");
}

// Payloads of OutputBlock::reference_min_bytes and more take other paths:
// one that needs no change is referenced where it lies, not copied.
TEST_CASE("envelope references a large compact JSON payload and copies what must change") {
    const std::size_t size = OutputBlock::reference_min_bytes;
    const std::string pad(size, 'x');
    const std::string compact = "{\"pad\":\"" + pad + "\"}";
    const std::string spaced = "{ \"pad\" : \"" + pad + "\" }";
    const std::string text = "not json " + pad;
    const std::string head = R"({"feed":"f","seq":1,"conn":1,"ts":"2023-11-14T22:13:20.123456Z",)";
    Envelope envelope(Format::jsonl, "f");

    OutputBlock block;
    envelope.append_line(1, 1, t0, MessageKind::text, compact, block);
    std::span<const std::string_view> pieces = block.pieces();
    REQUIRE(pieces.size() == 3);
    CHECK(pieces[0] == head + R"("type":"json","data":)");
    CHECK(pieces[1].data() == compact.data());
    CHECK(pieces[1].size() == compact.size());
    CHECK(pieces[2] == "}\n");

    CHECK(jsonl(spaced) == head + R"("type":"json","data":)" + compact + "}\n");
    CHECK(jsonl(text) == head + R"("type":"text","data":")" + text + "\"}\n");
    CHECK(jsonl(compact + "\xff") == head + R"("type":"text","data":")" + R"({\"pad\":\")" + pad +
                                          R"(\"}\ufffd"})" "\n");
    CHECK(jsonl(pad, MessageKind::binary) == head + R"("type":"binary","data":")" + base64(pad) + "\"}\n");

    // Just below the threshold: copied, with the same line.
    const std::string small = "{\"pad\":\"" + std::string(size - 11, 'x') + "\"}";
    REQUIRE(small.size() == size - 1);
    OutputBlock copied;
    envelope.append_line(1, 1, t0, MessageKind::text, small, copied);
    CHECK(copied.pieces().size() == 1);
    CHECK(copied.pieces()[0] == head + R"("type":"json","data":)" + small + "}\n");
}

TEST_CASE("raw format references a large payload") {
    const std::string large(OutputBlock::reference_min_bytes, 'r');
    Envelope envelope(Format::raw, "f");
    OutputBlock block;
    envelope.append_line(1, 1, t0, MessageKind::binary, large, block);
    envelope.append_line(2, 1, t0, MessageKind::text, "small", block);
    std::span<const std::string_view> pieces = block.pieces();
    REQUIRE(pieces.size() == 2);
    CHECK(pieces[0].data() == large.data());
    CHECK(pieces[1] == "\nsmall\n");
}

TEST_CASE("every jsonl line parses as JSON and carries the payload") {
    const char* json_payloads[] = {
        "42", "-0.5e+10", "true", "null", "\"s\"", R"("\u00e9\"")", "[]", "{}", R"({"a":[1,2,{"b":null}],"c":"d"})",
        "\n {\n\t\"k\" : [ 1 ,\r\n 2 ]\n}\n", "\"caf\xc3\xa9\"",
    };
    Envelope envelope(Format::jsonl, "feed \"x\"");
    std::uint64_t seq = 0;
    for (const char* payload : json_payloads) {
        CAPTURE(payload);
        nlohmann::json line = parse_line(line_of(envelope, ++seq, 3, t0, MessageKind::text, payload));
        CHECK(line["feed"] == "feed \"x\"");
        CHECK(line["seq"] == seq);
        CHECK(line["conn"] == 3);
        CHECK(line["ts"] == "2023-11-14T22:13:20.123456Z");
        CHECK(line["type"] == "json");
        CHECK(line["data"] == nlohmann::json::parse(payload));
    }

    const char* text_payloads[] = {"", "hello", "{\"a\":1,}", "1 2", "tab\there\nnewline", "\x01\x02\x7f", "'single'"};
    for (const char* payload : text_payloads) {
        CAPTURE(payload);
        nlohmann::json line = parse_line(line_of(envelope, ++seq, 3, t0, MessageKind::text, payload));
        CHECK(line["type"] == "text");
        CHECK(line["data"] == payload);
    }

    nlohmann::json invalid = parse_line(line_of(envelope, ++seq, 3, t0, MessageKind::text, "a\xff"));
    CHECK(invalid["type"] == "text");
    CHECK(invalid["data"] == "a\xef\xbf\xbd");

    nlohmann::json binary = parse_line(line_of(envelope, ++seq, 3, t0, MessageKind::binary, "foobar"));
    CHECK(binary["type"] == "binary");
    CHECK(binary["data"] == "Zm9vYmFy");
}

TEST_CASE("JSON nested deeper than 512 levels becomes text") {
    std::string deep = std::string(513, '[') + std::string(513, ']');
    nlohmann::json line = parse_line(jsonl(deep));
    CHECK(line["type"] == "text");
    CHECK(line["data"] == deep);

    std::string ok = std::string(512, '[') + std::string(512, ']');
    CHECK(parse_line(jsonl(ok))["type"] == "json");
}

// The escaper and the validator look at eight bytes at a time: a byte that
// needs care must be found wherever it falls in such a word.
TEST_CASE("special bytes are found at every position of a long string") {
    const std::string specials[] = {"\"", "\\", "\n", std::string(1, '\x01'), "\x1f", "\xc3\xa9", "\xe2\x82\xac",
                                    "\x7f", " ", "~"};
    for (const std::string& special : specials) {
        for (std::size_t at = 0; at < 20; ++at) {
            std::string text = std::string(at, 'a') + special + std::string(20 - at, 'b');
            CAPTURE(at);
            CAPTURE(text);
            CHECK(nlohmann::json::parse(json_string(text)).get<std::string>() == text);
            // As a JSON document, a string must come back the same.
            std::string document = json_string(text);
            nlohmann::json line = nlohmann::json::parse(jsonl(document));
            CHECK(line["type"] == "json");
            CHECK(line["data"].get<std::string>() == text);
        }
    }
    // Invalid UTF-8 after a run of plain bytes is still replaced, not copied.
    CHECK(json_string(std::string(13, 'a') + "\xff") == "\"" + std::string(13, 'a') + "\\ufffd\"");
}
