#include "textkit/tokenizer.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace {

using Tokens = std::vector<std::string_view>;

TEST(Split, KeepsEmptyFields) { EXPECT_EQ(textkit::split("a,,b", ','), (Tokens{"a", "", "b"})); }

TEST(Split, EmptyTextIsOneEmptyField) { EXPECT_EQ(textkit::split("", ','), (Tokens{""})); }

TEST(Split, TrailingDelimiterEndsWithEmptyField) { EXPECT_EQ(textkit::split("x;y;", ';'), (Tokens{"x", "y", ""})); }

TEST(Tokenizer, SplitsOnWhitespaceRuns) {
  EXPECT_EQ(textkit::tokenize("  alpha\tbeta \n gamma  "), (Tokens{"alpha", "beta", "gamma"}));
}

TEST(Tokenizer, QuotedTokenKeepsSpaces) {
  EXPECT_EQ(textkit::tokenize("say \"hello world\" twice"), (Tokens{"say", "hello world", "twice"}));
}

TEST(Tokenizer, ReportsUnterminatedQuote) {
  textkit::Tokenizer tokenizer("open \"never closed");
  EXPECT_EQ(tokenizer.next(), std::string_view("open"));
  EXPECT_FALSE(tokenizer.unterminated_quote());
  EXPECT_EQ(tokenizer.next(), std::string_view("never closed"));
  EXPECT_TRUE(tokenizer.unterminated_quote());
  EXPECT_EQ(tokenizer.next(), std::nullopt);
}

TEST(Tokenizer, BlankTextHasNoTokens) { EXPECT_TRUE(textkit::tokenize(" \t\r\n").empty()); }

}  // namespace
