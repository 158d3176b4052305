// wordcount: a third-party wrt plugin written in plain C.
//
//   [stages.docs-size]
//   plugin = "wordcount"
//   inputs = ["docs/*.md"]
//   with = { files = ["docs/a.md", "docs/b.md"], max_words = 500 }
//
// Reports the metric `words` (total) and a finding for every file over
// `max_words`; the stage fails if any file is over.
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <wrt/plugin.h>

static long count_words(FILE* f) {
  long words = 0;
  int in_word = 0, c;
  while ((c = fgetc(f)) != EOF) {
    if (isspace(c)) {
      in_word = 0;
    } else if (!in_word) {
      in_word = 1;
      ++words;
    }
  }
  return words;
}

static wrt_status fingerprint(const wrt_host* host, wrt_stage* stage) {
  if (host->config_array_size(stage, "files") < 0) {
    host->set_message(stage, "wordcount needs with.files = [\"...\"]");
    return WRT_STATUS_ERROR;
  }
  return WRT_STATUS_PASSED;
}

static wrt_status run(const wrt_host* host, wrt_stage* stage) {
  int64_t max_words = -1;
  if (host->config_int(stage, "max_words", &max_words) < 0) {
    host->set_message(stage, "with.max_words must be an integer");
    return WRT_STATUS_ERROR;
  }
  int64_t n = host->config_array_size(stage, "files");
  long total = 0;
  int over = 0;
  for (int64_t i = 0; i < n; ++i) {
    char key[32];
    const char* rel = NULL;
    snprintf(key, sizeof key, "files[%lld]", (long long)i);
    if (host->config_string(stage, key, &rel) != 1) {
      host->set_message(stage, "with.files must contain only strings");
      return WRT_STATUS_ERROR;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", host->workspace_dir(stage), rel);
    FILE* f = fopen(path, "r");
    if (!f) {
      char msg[4200];
      snprintf(msg, sizeof msg, "cannot open %s", rel);
      host->set_message(stage, msg);
      return WRT_STATUS_ERROR;
    }
    long words = count_words(f);
    fclose(f);
    total += words;
    char line[4200];
    snprintf(line, sizeof line, "%s: %ld words", rel, words);
    host->log(stage, WRT_LOG_INFO, line);
    if (max_words >= 0 && words > max_words) {
      char msg[256];
      snprintf(msg, sizeof msg, "%ld words, over the limit of %lld", words, (long long)max_words);
      wrt_finding finding = {sizeof(wrt_finding), "wordcount/max-words", WRT_SEVERITY_ERROR, rel, 1, 1, msg};
      host->report_finding(stage, &finding);
      ++over;
    }
  }
  host->report_metric(stage, "words", (double)total);
  if (over) {
    host->set_message(stage, "some files are over the word limit");
    return WRT_STATUS_FAILED;
  }
  return WRT_STATUS_PASSED;
}

static const wrt_plugin wordcount = {
    sizeof(wrt_plugin), "wordcount", "1.0.0", "Counts words in files; fails above a limit", fingerprint, run, NULL,
};
static const wrt_plugin* const plugins[] = {&wordcount};
static const wrt_entry entry = {
    sizeof(wrt_entry), WRT_ABI_VERSION_MAJOR, WRT_ABI_VERSION_MINOR, NULL, NULL, 1, plugins,
};

WRT_PLUGIN_EXPORT const wrt_entry* wrt_plugin_entry(void) { return &entry; }
