# Sourced by scripts/run_app.sh (POSIX sh): run the server on jemalloc where it is installed
# (Debian/Ubuntu: apt install libjemalloc2), freed pages returned to the OS within a second.
# glibc's heaps fragment under live video: after 100 START/STOP cycles and 50 closed tabs
# the server ends 7-14% over its baseline on glibc, 1% on jemalloc so configured; a 48 MP
# photo peaks 25-30 MB higher, under 400 MB (docs/RELIABILITY.md "jemalloc").
# FER_ALLOCATOR=glibc opts out; an LD_PRELOAD already set is kept.
if [ "${FER_ALLOCATOR:-jemalloc}" = jemalloc ]; then
  if [ -z "${LD_PRELOAD:-}" ]; then
    for lib in /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 /usr/lib/aarch64-linux-gnu/libjemalloc.so.2 \
        /usr/lib64/libjemalloc.so.2 /usr/lib/libjemalloc.so.2; do
      if [ -f "$lib" ]; then LD_PRELOAD=$lib; export LD_PRELOAD; break; fi
    done
  fi
  case "${LD_PRELOAD:-}" in
    *jemalloc*) MALLOC_CONF=${MALLOC_CONF:-background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0}
                export MALLOC_CONF ;;
  esac
fi
