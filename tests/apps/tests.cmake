# The sd-generate tests run the built program.
add_dependencies(test_apps sd-generate)
