# Warnings are errors in wrt's own code (not in third-party headers, which
# come in as system includes).
function(wrt_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  if(WRT_SANITIZE AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC's sanitizer instrumentation produces known false positives of
    # -Wmaybe-uninitialized inside libstdc++ (std::function in <regex>); the
    # normal build still treats that warning as an error.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
endfunction()
