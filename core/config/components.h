// Components and ASIL profiles applied to stages: expanding `for_each =
// "component"` templates into one instance per component (each with that
// component's paths as inputs, its profile in `with.profile` and its own
// cache entry), re-applying another level's profile for `wrt verify`, and
// mapping changed files to the components they belong to.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/util/result.h"

namespace wrt {

// Replaces every for_each template in `config.stages` by its instances
// ("prove" -> "prove:memory", "prove:parser"), in place and in file order;
// rewrites `needs` and pipeline lists that name a template; applies ASIL
// profile defaults (timeout) to every stage that carries a level; fills
// `config.groups`. `{component}` in an instance's inputs, outputs and `with`
// strings becomes the component's name. Errors name file:line:col.
Status expand_components(Config& config);

// `with.profile` for a stage judged at `level` with `profile`: the profile's
// fields plus its verifier settings flattened on top ("default_unwind", ...).
nlohmann::json profile_json(Asil level, const AsilProfile& profile);

struct VerifyRequest {
  Asil level = Asil::QM;             // --asil-profile: components at this level and below
  std::vector<std::string> components;  // --component (empty = all)
  std::string harness;               // --harness: passed as with.harnesses = [NAME]
};

// `wrt verify`: selects the instances of every for_each stage whose
// component is at `level` or below (and in `components`, when given) and
// gives them `level`'s profile. Returns their names; Error for an unknown
// component or when nothing matches.
Result<std::vector<std::string>> apply_verify_request(Config& config, const VerifyRequest& request);

// Components with at least one path pattern matching one of `files`
// (workspace-relative), in config order.
std::vector<std::string> components_touched(const Config& config, const std::vector<std::string>& files);

}  // namespace wrt
