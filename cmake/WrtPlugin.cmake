# wrt_add_plugin(<name> SOURCES <files>... [OUTPUT_DIRECTORY <dir>])
#
# Builds a wrt stage plugin as a loadable module named wrt-plugin-<name>.so
# that exports only `wrt_plugin_entry` (hidden visibility plus a version
# script) and has no undefined symbols (-z defs), so it loads in any wrt host
# with the same ABI major. Used by wrt's built-in plugins and, through
# find_package(wrt), by out-of-tree plugins alike.
set(_WRT_PLUGIN_MAP "${CMAKE_CURRENT_LIST_DIR}/wrt-plugin.map")

function(wrt_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "wrt_add_plugin(${name}): SOURCES is required")
  endif()
  set(target wrt-plugin-${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  if(TARGET wrt::sdk)
    target_link_libraries(${target} PRIVATE wrt::sdk)
  else()
    target_link_libraries(${target} PRIVATE wrt_sdk)
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "wrt-plugin-${name}"
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  endif()
  target_link_options(${target} PRIVATE
    "LINKER:--version-script=${_WRT_PLUGIN_MAP}" "LINKER:-z,defs")
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${_WRT_PLUGIN_MAP}")
endfunction()
