// Base64 (RFC 4648): DSSE payloads and signatures, RFC 2047 mail headers.
#pragma once

#include <string>
#include <string_view>

#include "core/util/result.h"

namespace wrt {

std::string base64_encode(std::string_view bytes);
// Standard or URL-safe alphabet, padding optional; Error names the bad character.
Result<std::string> base64_decode(std::string_view text);

}  // namespace wrt
