// The wordcount plugin's own test, built against the installed SDK only: the
// harness in <wrt/testing.hpp> loads the built plugin and runs stages in a
// temporary workspace. A plain main, so no test framework is needed; with
// Catch2 or GoogleTest the calls are the same.
#include <wrt/testing.hpp>

#include <cstdio>
#include <exception>
#include <string>

namespace wt = wrt::sdk::testing;

static int failures = 0;

#define EXPECT(cond)                                                     \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                        \
    }                                                                    \
  } while (0)

int main() try {
  wt::Plugin lib(WORDCOUNT_PLUGIN);
  wt::Workspace ws;
  ws.write("docs/short.md", "one two three\n");
  ws.write("docs/long.md", "a b c d e f g h i j k l\n");

  wt::StageSpec stage;
  stage.with = R"({ files = ["docs/short.md", "docs/long.md"], max_words = 10 })";
  stage.inputs = {"docs/short.md", "docs/long.md"};
  wt::Result r = wt::run_stage(lib, ws, stage);
  EXPECT(r.status == WRT_STATUS_FAILED);
  EXPECT(r.metric("words") == 15);
  EXPECT(r.findings.size() == 1 && r.findings[0].file == "docs/long.md");
  EXPECT(r.message == "some files are over the word limit");
  EXPECT(r.log.find("[wrt info] docs/short.md: 3 words") != std::string::npos);

  stage.with = R"({ files = ["docs/short.md"] })";
  wt::Result ok = wt::run_stage(lib, ws, stage);
  EXPECT(ok.status == WRT_STATUS_PASSED);
  EXPECT(ok.metric("words") == 3);

  stage.with = "{}";  // fingerprint() insists on with.files
  wt::Result none = wt::run_stage(lib, ws, stage);
  EXPECT(none.configuration_error);
  EXPECT(none.message == "wordcount needs with.files = [\"...\"]");

  std::printf("wordcount_test: %d failure(s)\n", failures);
  return failures == 0 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "wordcount_test: %s\n", e.what());
  return 1;
}
