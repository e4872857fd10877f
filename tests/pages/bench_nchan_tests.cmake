# bench_nchan_smoke - bench/nchan/compare.sh --quick: Herald and nginx+nchan side by
#   side on all three transports; every phase must lose and duplicate nothing and
#   every cell of the table must be filled for both servers. Fails when nchan
#   (libnginx-mod-nchan) cannot be installed. About 30 to 50 s.
if(TARGET herald-bench)
  add_test(NAME bench_nchan_smoke
    COMMAND bash ${CMAKE_SOURCE_DIR}/bench/nchan/smoke.sh ${CMAKE_CURRENT_BINARY_DIR}/bench-nchan-smoke)
  set_tests_properties(bench_nchan_smoke PROPERTIES TIMEOUT 120 LABELS bench RUN_SERIAL TRUE)
endif()
