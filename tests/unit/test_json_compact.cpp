// append_compact_json: RFC 8259 validation plus whitespace removal, tokens
// copied byte for byte.
#include "json_compact.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace wsgather;

namespace {

// The compacted text, or "<rejected>" (after checking that `out` was left
// alone). Every case also checks that check_json, which validates without
// copying, agrees: it must reject the same texts, and call compact exactly
// those that compacting leaves as they are.
std::string compact(std::string_view text) {
    const std::string prefix = "prefix:";
    std::string out = prefix;
    JsonShape shape = check_json(text);
    if (append_compact_json(text, out)) {
        REQUIRE(out.compare(0, prefix.size(), prefix) == 0);
        std::string compacted = out.substr(prefix.size());
        CHECK(shape == (compacted == text ? JsonShape::compact : JsonShape::spaced));
        return compacted;
    }
    CHECK(out == prefix);
    CHECK(shape == JsonShape::invalid);
    return "<rejected>";
}

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string nested_objects(int depth) {
    std::string text;
    for (int i = 1; i < depth; ++i) text += "{\"a\":";
    text += "{}";
    text += std::string(depth - 1, '}');
    return text;
}

}  // namespace

TEST_CASE("compact JSON keeps scalars byte-exact") {
    CHECK(compact("42") == "42");
    CHECK(compact("-0") == "-0");
    CHECK(compact("0") == "0");
    CHECK(compact("2.50") == "2.50");
    CHECK(compact("-0.5e+10") == "-0.5e+10");
    CHECK(compact("1E300") == "1E300");
    CHECK(compact("1e-7") == "1e-7");
    CHECK(compact("123456789012345678901234567890") == "123456789012345678901234567890");
    CHECK(compact("\"s\"") == "\"s\"");
    CHECK(compact("true") == "true");
    CHECK(compact("false") == "false");
    CHECK(compact("null") == "null");
}

TEST_CASE("compact JSON keeps strings with escapes and UTF-8 byte-exact") {
    CHECK(compact(R"("a\"b")") == R"("a\"b")");
    CHECK(compact(R"("\u00e9\u00E9")") == R"("\u00e9\u00E9")");
    CHECK(compact(R"("\\ \/ \b \f \n \r \t")") == R"("\\ \/ \b \f \n \r \t")");
    CHECK(compact("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    CHECK(compact("\"  spaces  inside  \"") == "\"  spaces  inside  \"");
    CHECK(compact("\"\x7f\"") == "\"\x7f\"");  // DEL is not a control character in JSON
}

TEST_CASE("compact JSON removes whitespace between tokens only") {
    CHECK(compact("{}") == "{}");
    CHECK(compact("[]") == "[]");
    CHECK(compact(" { } ") == "{}");
    CHECK(compact("[ ]") == "[]");
    CHECK(compact(R"({"a":1,"b":[true,false,null]})") == R"({"a":1,"b":[true,false,null]})");
    CHECK(compact(" {\n\t\"a\" :\r\n 1 ,\t\"b\"\n:\n[ true ,false,\n\n null ] }\n") ==
          R"({"a":1,"b":[true,false,null]})");
    CHECK(compact("[1, [2, [3, {\"k\": {\"k\": [\"v w\"]}}]]]") == R"([1,[2,[3,{"k":{"k":["v w"]}}]]])");
    CHECK(compact("\t\r\n 42 \t\r\n") == "42");
    CHECK(compact("{\"a b\" : \"c d\"}") == R"({"a b":"c d"})");
}

TEST_CASE("compact JSON accepts 512 levels of nesting and refuses 513") {
    CHECK(max_json_depth == 512);
    CHECK(compact(nested(512)) == nested(512));
    CHECK(compact(nested(513)) == "<rejected>");
    CHECK(compact(nested_objects(512)) == nested_objects(512));
    CHECK(compact(nested_objects(513)) == "<rejected>");
}

TEST_CASE("compact JSON refuses malformed numbers") {
    for (const char* bad : {"01", "-01", "+1", ".5", "1.", "-", "-a", "1e", "1e+", "1E-", "0x10", "1.e5", "--1", "Infinity",
                            "-Infinity", "NaN", "[01]", "[1.]", "{\"a\":.5}"}) {
        CAPTURE(bad);
        CHECK(compact(bad) == "<rejected>");
    }
}

TEST_CASE("compact JSON refuses malformed structure") {
    for (const char* bad : {"[1,]", "{\"a\":1,}", "[,]", "{,}", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{a:1}", "{1:1}",
                            "['a']", "'a'", "[", "]", "{", "}", "{\"a\":1", "[1", "[1}", "{\"a\":1]", "tru", "truex",
                            "nul", "True", "[true false]", "{\"a\":1 \"b\":2}"}) {
        CAPTURE(bad);
        CHECK(compact(bad) == "<rejected>");
    }
}

TEST_CASE("compact JSON refuses malformed strings") {
    CHECK(compact("\"a\nb\"") == "<rejected>");  // raw control characters
    CHECK(compact("\"a\tb\"") == "<rejected>");
    CHECK(compact(std::string("\"a\0b\"", 5)) == "<rejected>");
    CHECK(compact("\"\x1f\"") == "<rejected>");
    CHECK(compact(R"("\x41")") == "<rejected>");
    CHECK(compact(R"("\a")") == "<rejected>");
    CHECK(compact(R"("\u12")") == "<rejected>");
    CHECK(compact(R"("\u12G4")") == "<rejected>");
    CHECK(compact(R"(["\u12"])") == "<rejected>");
    CHECK(compact(R"("\u123)") == "<rejected>");
    CHECK(compact(R"("\u1234)") == "<rejected>");
    CHECK(compact(R"("\)") == "<rejected>");
    CHECK(compact("\"unterminated") == "<rejected>");
    CHECK(compact("\"") == "<rejected>");
}

TEST_CASE("compact JSON refuses invalid UTF-8 inside strings") {
    for (const char* bad : {"\"\xff\"", "\"\xc3\"", "\"\xc3(\"", "\"\xc0\xaf\"", "\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"",
                            "\"\xf4\x90\x80\x80\"", "\"\xf0\x9f\x98\"", "\"\x80\"", "{\"k\xff\":1}"}) {
        CAPTURE(bad);
        CHECK(compact(bad) == "<rejected>");
    }
}

TEST_CASE("compact JSON refuses anything but exactly one value") {
    CHECK(compact("") == "<rejected>");
    CHECK(compact(" \t\r\n") == "<rejected>");
    CHECK(compact("{} x") == "<rejected>");
    CHECK(compact("1 2") == "<rejected>");
    CHECK(compact("{}{}") == "<rejected>");
    CHECK(compact("[] ,") == "<rejected>");
    CHECK(compact("\"a\" \"b\"") == "<rejected>");
    CHECK(compact("hello") == "<rejected>");
}

TEST_CASE("compact JSON refuses whitespace that RFC 8259 does not allow") {
    CHECK(compact("\f1") == "<rejected>");
    CHECK(compact("[1,\v2]") == "<rejected>");
    CHECK(compact("\xc2\xa0" "1") == "<rejected>");  // no-break space
}

TEST_CASE("compact JSON appends to what out already holds") {
    std::string out = "{\"data\":";
    CHECK(append_compact_json(" [ 1 , 2 ] ", out));
    CHECK(out == "{\"data\":[1,2]");
}

TEST_CASE("compact JSON leaves out unchanged when it fails late") {
    // The failure comes after much has been written: all of it must go.
    std::string out = "keep";
    CHECK_FALSE(append_compact_json("{\"a\":[1,2,3],\"b\":{\"c\":\"d\"},\"e\":01}", out));
    CHECK(out == "keep");
    CHECK_FALSE(append_compact_json(nested(513), out));
    CHECK(out == "keep");
}

TEST_CASE("compact JSON refuses lone surrogate escapes so that every line parses in strict parsers") {
    // RFC 8259 section 8.2 lets such strings through the grammar, but
    // parsers differ on them (nlohmann::json refuses them): they become text.
    std::string out = "keep";
    CHECK_FALSE(append_compact_json(R"("\ud800")", out));
    CHECK_FALSE(append_compact_json(R"("\udc00x")", out));
    CHECK_FALSE(append_compact_json(R"("\ud800\u0041")", out));  // high half, then no low half
    CHECK_FALSE(append_compact_json(R"("\ud800\n")", out));
    CHECK(out == "keep");
    CHECK(compact(R"("\ud83d\ude00")") == R"("\ud83d\ude00")");  // a proper pair
    CHECK(compact(R"("\uD83D\uDE00")") == R"("\uD83D\uDE00")");
}

TEST_CASE("compact JSON refuses numbers beyond a double's range so that every line parses in strict parsers") {
    std::string huge(309, '9');  // 1e309 - 1: over DBL_MAX
    std::string big = "1" + std::string(308, '0');  // 1e308: under DBL_MAX
    for (const std::string& bad : {std::string("1e400"), std::string("-1E+309"), std::string("[0.5e99999]"),
                                   std::string("{\"px\":1e400}"), huge, "[" + huge + "]"}) {
        CAPTURE(bad);
        CHECK(compact(bad) == "<rejected>");
    }
    // Underflow is zero to every parser; large but finite numbers are kept.
    for (const std::string& fine : {std::string("1e-400"), std::string("1.7976931348623157e308"), std::string("1e308"),
                                    big, std::string("18446744073709551616")}) {
        CAPTURE(fine);
        CHECK(compact(fine) == fine);
    }
}
