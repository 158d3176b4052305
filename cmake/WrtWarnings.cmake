# Warnings are errors in wrt's own code (not in third-party headers, which
# come in as system includes).
function(wrt_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
endfunction()
