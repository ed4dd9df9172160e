# aarch64-linux-gnu.cmake: cross build for 64-bit ARM Linux (arm64).
#
#   bash scripts/arm64-sysroot.sh
#   cmake -S . -B build/arm64 \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#   cmake --build build/arm64 -j2
#   ctest --test-dir build/arm64 -L unit     # under qemu-aarch64-static
#
# Compiler, C library and loader: Debian's gcc-aarch64-linux-gnu and
# libc6-dev-arm64-cross (/usr/aarch64-linux-gnu). Loka's libraries: the
# sysroot that scripts/arm64-sysroot.sh unpacks from Debian's arm64
# packages, build/arm64-sysroot by default (LOKA_ARM64_SYSROOT, as a -D
# or in the environment, names another). No --sysroot is passed to the
# compiler: the sysroot holds no C library, the cross toolchain's is used.
#
# Test programs run under qemu-aarch64-static (CMAKE_CROSSCOMPILING_EMULATOR,
# which ctest puts in front of every test that runs a built program), with
# the cross loader and C library (-L) and the sysroot's libraries
# (LD_LIBRARY_PATH, given to the emulated program only).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)

if(NOT LOKA_ARM64_SYSROOT)
  if(DEFINED ENV{LOKA_ARM64_SYSROOT})
    set(LOKA_ARM64_SYSROOT "$ENV{LOKA_ARM64_SYSROOT}")
  else()
    get_filename_component(LOKA_ARM64_SYSROOT
      "${CMAKE_CURRENT_LIST_DIR}/../build/arm64-sysroot" ABSOLUTE)
  endif()
endif()
if(NOT EXISTS "${LOKA_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu")
  message(FATAL_ERROR "no arm64 sysroot in ${LOKA_ARM64_SYSROOT}: "
    "run scripts/arm64-sysroot.sh first")
endif()
# try_compile() projects read this file again: hand them the same sysroot.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES LOKA_ARM64_SYSROOT)

set(LOKA_ARM64_CROSS /usr/aarch64-linux-gnu)
set(loka_arm64_libdirs "${LOKA_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu"
  "${LOKA_ARM64_SYSROOT}/lib/aarch64-linux-gnu")

# Libraries and headers only from the sysroot and the cross C library;
# programs (pkg-config, python3) from the host.
set(CMAKE_FIND_ROOT_PATH "${LOKA_ARM64_SYSROOT}" "${LOKA_ARM64_CROSS}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config reads the sysroot's .pc files only and prefixes their paths.
set(ENV{PKG_CONFIG_LIBDIR}
  "${LOKA_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${LOKA_ARM64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${LOKA_ARM64_SYSROOT}")
unset(ENV{PKG_CONFIG_PATH})

# pkg-config leaves out -I/usr/include (a system directory), and Debian
# keeps some headers (openssl/configuration.h) in the multiarch directory,
# which the cross compiler does not search in a sysroot: name both, after
# the project's own include directories.
set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES
  "${LOKA_ARM64_SYSROOT}/usr/include/aarch64-linux-gnu"
  "${LOKA_ARM64_SYSROOT}/usr/include")

# -L for what pkg-config names, -rpath-link for what those libraries need
# in turn (libpq: Kerberos, LDAP, SASL, GnuTLS and theirs).
set(loka_arm64_ldflags "")
foreach(dir ${loka_arm64_libdirs})
  string(APPEND loka_arm64_ldflags " -L${dir} -Wl,-rpath-link,${dir}")
endforeach()
set(CMAKE_EXE_LINKER_FLAGS_INIT "${loka_arm64_ldflags}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${loka_arm64_ldflags}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${loka_arm64_ldflags}")

# -L: the loader (/lib/ld-linux-aarch64.so.1 in the program) and the C
# library are looked up under the cross toolchain's prefix first.
list(JOIN loka_arm64_libdirs ":" loka_arm64_ld_path)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L "${LOKA_ARM64_CROSS}"
  -E "LD_LIBRARY_PATH=${loka_arm64_ld_path}")
