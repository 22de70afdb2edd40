#!/usr/bin/env bash
# test_exports.sh — every shared library `cmake --install` puts in a prefix
# exports the public API and nothing else, the
# kernels the build makes export only their entry symbol, and every global
# symbol of the installed static archives is public API or named rh__.
#
# The public API is what host/include/ringhost/*.h declare with RH_API (the
# export macro of ringhost/kernel.h; one declaration per line that starts
# with RH_API, the name before the first '(').  For each installed shared
# library, `nm -D --defined-only` lists what it exports; the test fails
# listing
#   - the exported symbols that are not public API (an internal function
#     that lost its hidden visibility: make it static, or declare it with
#     RH_API in a public header if it is meant to be public), and
#   - the public functions a library should define but does not export
#     (libringhost.so: all of ringhost.h; libringhost_testing.so, were one
#     installed: all of testing.h).
# Arguments: those of out_of_tree_common.sh, then the folders holding the
# kernels built by this tree (each *.so there must export exactly
# rh_kernel_entry).
. "$(dirname "$0")/out_of_tree_common.sh"
shift 6 || true
PLUGIN_DIRS=("$@")

HEADERS=$RH_SOURCE_DIR/host/include/ringhost

# The names declared with RH_API in the headers named (all headers without).
public_api() {
    local files=("$HEADERS"/*.h)
    [ $# -gt 0 ] && files=("${@/#/$HEADERS/}")
    # functions: RH_API <type> name(...    objects: RH_API extern <type> name;
    sed -n -E -e 's/^RH_API[^(;]*[^A-Za-z0-9_(;]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\(.*/\1/p' \
        -e 's/^RH_API[^(;]*[^A-Za-z0-9_(;]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*(\[[^]]*\])?[[:space:]]*;.*/\1/p' \
        "${files[@]}" | sort -u
}

# The defined dynamic symbols of shared object $1, without version suffixes.
# Absolute symbols (version nodes) and the symbols the linker itself adds
# to some objects (_init, _fini, _edata, _end, __bss_start) are not code of
# ours and are left out.
exported() {
    nm -D --defined-only "$1" |
        awk 'NF >= 3 && $2 != "A" { sub(/@.*/, "", $3); print $3 }' |
        grep -v -x -E '_init|_fini|_edata|_end|__bss_start' | sort -u || true
}

# check LIBRARY ALLOWED_FILE EXPECTED_FILE: fail-list what LIBRARY exports
# outside ALLOWED_FILE and what of EXPECTED_FILE it does not export.
FAILED=0
check() {
    local lib=$1 allowed=$2 expected=$3 name
    name=${lib#"$PREFIX"/}
    exported "$lib" >"$WORK/exported"
    comm -23 "$WORK/exported" "$allowed" >"$WORK/extra"
    comm -13 "$WORK/exported" "$expected" >"$WORK/missing"
    if [ -s "$WORK/extra" ]; then
        echo "FAIL: $name exports $(wc -l <"$WORK/extra") symbols that are not public API:" >&2
        sed 's/^/    /' "$WORK/extra" >&2
        FAILED=1
    fi
    if [ -s "$WORK/missing" ]; then
        echo "FAIL: $name lacks $(wc -l <"$WORK/missing") public API functions:" >&2
        sed 's/^/    /' "$WORK/missing" >&2
        FAILED=1
    fi
    if [ ! -s "$WORK/extra" ] && [ ! -s "$WORK/missing" ]; then
        echo "ok: $name exports $(wc -l <"$WORK/exported") symbols, each one it should"
    fi
}

public_api >"$WORK/public"
public_api ringhost.h zero_copy.h runtime.h >"$WORK/public.ringhost" # both: part of ringhost.h
public_api testing.h >"$WORK/public.testing"
: >"$WORK/none"
[ "$(wc -l <"$WORK/public.ringhost")" -ge 40 ] ||
    fail "found only $(wc -l <"$WORK/public.ringhost") RH_API declarations in ringhost.h"
[ -s "$WORK/public.testing" ] || fail "found no RH_API declarations in testing.h"
step "public API: $(wc -l <"$WORK/public") RH_API names in $HEADERS"

install_prefix
mapfile -t LIBS < <(find "$PREFIX" -type f \( -name '*.so' -o -name '*.so.*' \) | sort)
[ ${#LIBS[@]} -gt 0 ] || fail "the install has no shared library"
printf '%s\n' "${LIBS[@]}" | grep -q '/libringhost\.so\.' || fail "the install has no libringhost.so"
for lib in "${LIBS[@]}"; do
    case "${lib##*/}" in
    libringhost.so.*) check "$lib" "$WORK/public" "$WORK/public.ringhost" ;;
    libringhost_testing.so.*) check "$lib" "$WORK/public" "$WORK/public.testing" ;;
    *) check "$lib" "$WORK/public" "$WORK/none" ;;
    esac
done

# Kernels: hidden visibility (RinghostKernel.cmake) with one default symbol.
echo rh_kernel_entry >"$WORK/entry"
n=0
for dir in "${PLUGIN_DIRS[@]}"; do
    [ -d "$dir" ] || continue
    for so in "$dir"/*.so; do
        [ -f "$so" ] || continue
        check "$so" "$WORK/entry" "$WORK/entry"
        n=$((n + 1))
    done
done
[ ${#PLUGIN_DIRS[@]} -eq 0 ] || [ $n -gt 0 ] || fail "no kernel .so in ${PLUGIN_DIRS[*]}"

# Static archives: every global symbol they define is public API or carries
# the internal prefix rh__ (what no public header declares is static, or
# named rh__...: a reader tells the API from the internals by the name).
mapfile -t ARCHIVES < <(find "$PREFIX" -type f -name 'libringhost*.a' | sort)
[ ${#ARCHIVES[@]} -ge 2 ] || fail "the install has ${#ARCHIVES[@]} libringhost*.a, expected 2"
for a in "${ARCHIVES[@]}"; do
    nm -g --defined-only "$a" 2>/dev/null |
        awk 'NF >= 3 && $2 ~ /^[TDBRVW]$/ { print $3 }' |
        sed 's/^__odr_asan\.//' | sort -u >"$WORK/globals" # ASan's twin of each global
    grep -v -E '^rh__' "$WORK/globals" | comm -23 - "$WORK/public" >"$WORK/unprefixed"
    if [ -s "$WORK/unprefixed" ]; then
        echo "FAIL: ${a#"$PREFIX"/} defines $(wc -l <"$WORK/unprefixed") global symbols that" \
             "are neither public API nor rh__ (make them static, or name them rh__...):" >&2
        sed 's/^/    /' "$WORK/unprefixed" >&2
        FAILED=1
    else
        echo "ok: ${a#"$PREFIX"/}: $(wc -l <"$WORK/globals") global symbols, each public or rh__"
    fi
done

[ $FAILED = 0 ] || exit 1
echo "PASS: ${#LIBS[@]} installed shared libraries and $n kernels export only public API"
