# The deployment files (docker-compose.yml, Dockerfile, deploy/nginx.conf.template),
# checked without Docker; include()d by tests/CMakeLists.txt.
add_test(NAME deploy_config COMMAND ${CMAKE_CURRENT_LIST_DIR}/deploy_config.sh $<TARGET_FILE:herald>)
set_tests_properties(deploy_config PROPERTIES TIMEOUT 60)
