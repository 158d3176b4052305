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
  if(WRT_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC's sanitizer instrumentation produces known false positives of
    # -Wmaybe-uninitialized inside libstdc++ (std::function in <regex>); the
    # normal build still treats that warning as an error.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
endfunction()
