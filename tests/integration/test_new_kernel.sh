#!/usr/bin/env bash
# test_new_kernel.sh — `ringhost new-kernel NAME DIR`, as a new user runs it
# from an installed ringhost: the folder it writes builds against the
# installed package only, its test passes, and the installed host answers
# through it; a bad NAME and an existing DIR are refused with exit status 2
# and nothing written.  Arguments: see out_of_tree_common.sh.
. "$(dirname "$0")/out_of_tree_common.sh"

install_prefix
RINGHOST=$PREFIX/bin/ringhost

# Expect exit status 2 and $2 in stderr from `ringhost new-kernel $3...`.
expect_refused() {
    local what=$1 message=$2 rc=0
    shift 2
    "$RINGHOST" new-kernel "$@" >"$WORK/out.txt" 2>"$WORK/err.txt" || rc=$?
    [ "$rc" = 2 ] || { cat "$WORK/out.txt" "$WORK/err.txt"; fail "$what: exit status $rc, expected 2"; }
    grep -F -q -- "$message" "$WORK/err.txt" ||
        { cat "$WORK/err.txt"; fail "$what: expected \"$message\" in its message"; }
}

step "refusals"
expect_refused "a name starting with a digit" 'NAME "9lives": it starts with a digit' \
    9lives "$WORK/nine"
[ ! -e "$WORK/nine" ] || fail "a refused name still created $WORK/nine"
expect_refused "a name with a dash" "'-' at offset 2" my-kernel "$WORK/dash"
expect_refused "a C keyword" "C keyword" int "$WORK/int"
expect_refused "a reserved CMake target" "target name" test "$WORK/test"
expect_refused "no name" "expected a kernel NAME"
mkdir "$WORK/taken"
echo "mine" >"$WORK/taken/keep.txt"
expect_refused "an existing folder" "$WORK/taken already exists; nothing was written" \
    foo "$WORK/taken"
[ "$(ls -A "$WORK/taken")" = keep.txt ] && [ "$(cat "$WORK/taken/keep.txt")" = mine ] ||
    fail "new-kernel touched the existing folder $WORK/taken"
touch "$WORK/afile"
expect_refused "an existing file" "already exists" foo "$WORK/afile"

step "$RINGHOST new-kernel foo $WORK/foo"
quiet "new-kernel" "$RINGHOST" new-kernel foo "$WORK/foo"
cat "$WORK/last.log"
grep -F -q -- "-DCMAKE_PREFIX_PATH=$PREFIX" "$WORK/last.log" ||
    fail "the next steps do not name the installed prefix $PREFIX"
for f in CMakeLists.txt foo.c foo_request.json foo_response.json test_foo.c manifest.json \
         requests.jsonl README.md .gitignore; do
    [ -f "$WORK/foo/$f" ] || fail "new-kernel wrote no $f"
done

build_kernel "$WORK/foo"
grep -q "100% tests passed, 0 tests failed out of 1" "$WORK/last.log" ||
    fail "the generated test did not run and pass"

run_host "$WORK/foo/manifest.json" "$WORK/foo/requests.jsonl"
expect_output '"body": {"text": "hello", "count": 3, "sum": 6.5}'
expect_output '"body": {"text": "again", "count": 2, "sum": 6.0}'
[ "$(grep -c '"correlation_id": ' "$WORK/out.jsonl")" = 2 ] || fail "expected 2 answers"
echo "PASS: new-kernel wrote a kernel that builds against $PREFIX only, passes its test, answers"
