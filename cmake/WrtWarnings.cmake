# Warnings in wrt's own code (not in third-party headers, which come in as
# system includes). They are errors with WRT_WERROR=ON -- in scripts/ and CI,
# where the compiler is known -- and not for a packager's build with another
# compiler or optimisation level, where a new false positive must not stop
# the build.
function(wrt_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  if(WRT_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    # GCC 12 at -O3 (Release) reports -Wrestrict inside std::string's
    # inlined operator+ / assign for ordinary code such as
    # `s += ":" + std::to_string(n)` (GCC bugs 105329, 105651; fixed in 13).
    # Only in Release (-O3), where it fires; every other warning stays on,
    # and CI builds Release with WRT_WERROR=ON.
    target_compile_options(${target} PRIVATE $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CONFIG:Release>>:-Wno-restrict>)
  endif()
  if(WRT_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC's sanitizer instrumentation produces known false positives of
    # -Wmaybe-uninitialized inside libstdc++ (std::function in <regex>); the
    # normal build still treats that warning as an error.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
endfunction()
