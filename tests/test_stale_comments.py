"""MP007's fix drops a comment that describes the failure it removes ("This fails, as
lambdas aren't pickleable") when the comment is attached to a statement the fix moves or
rewrites; a comment that may describe it but does not say what failed is kept, and the
finding says so. Fixtures: fixtures/unpicklable-callable/comment-*."""

from __future__ import annotations

import textwrap

from mpfix import check_code, fix_code

NOTE = "(a comment above may be stale)"


def _program(comment_lines: str) -> str:
    return textwrap.dedent('''\
        from multiprocessing import Pool


        def main():
        {comments}    double = lambda x: 2 * x
            with Pool(2) as pool:
                print(pool.map(double, [1, 2, 3]))
        ''').format(comments=textwrap.indent(comment_lines, "    "))


def _message(source: str) -> str:
    [finding] = check_code(source, select=["MP007"])
    return finding.message


def _fixed(source: str) -> str:
    return fix_code(source, select=["MP007"])


def test_a_comment_on_the_lambda_failing_is_dropped_without_a_note() -> None:
    source = _program("# Using a lambda here\n# breaks under spawn: it cannot be pickled\n")
    assert NOTE not in _message(source)
    fixed = _fixed(source)
    assert "lambda" not in fixed and "pickled" not in fixed
    assert "def double(x):\n    return 2 * x\n" in fixed


def test_a_comment_that_only_says_something_fails_is_kept_and_noted() -> None:
    source = _program("# This fails on the cluster\n")
    assert _message(source).endswith(NOTE)
    assert "# This fails on the cluster\ndef double(x):" in _fixed(source)


def test_a_comment_naming_the_lambda_without_a_failure_moves_with_it() -> None:
    source = _program("# a lambda doubles each number\n")
    assert NOTE not in _message(source)
    assert "# a lambda doubles each number\ndef double(x):" in _fixed(source)


def test_a_comment_separated_by_a_blank_line_is_not_attached() -> None:
    source = _program("# Lambdas cannot be pickled, so this used to fail\n\n")
    assert NOTE not in _message(source)
    assert "# Lambdas cannot be pickled, so this used to fail\n" in _fixed(source)


def test_a_comment_above_the_call_handing_the_lambda_over_is_dropped() -> None:
    source = textwrap.dedent('''\
        from multiprocessing import Pool


        def main():
            with Pool(2) as pool:
                # pool.map can't pickle a lambda, so this raises an error
                print(pool.map(lambda x: 2 * x, [1, 2, 3]))
        ''')
    fixed = _fixed(source)
    assert "pool.map can't pickle" not in fixed
    assert "print(pool.map(_task, [1, 2, 3]))" in fixed


# MP001: a comment on a statement the fix moves under the new guard ------------------

def _unguarded(comment_lines: str) -> str:
    return textwrap.dedent('''\
        from multiprocessing import Pool

        {comments}with Pool(2) as pool:
            print(pool.map(abs, [-1]))
        ''').format(comments=comment_lines)


def _guarded(source: str) -> str:
    return fix_code(source, select=["MP001"])


def test_a_comment_on_the_missing_guard_failing_is_dropped() -> None:
    fixed = _guarded(_unguarded("# this breaks without a main guard\n"))
    assert "breaks" not in fixed and 'if __name__ == "__main__":' in fixed


def test_a_comment_on_the_moved_code_that_names_no_failure_moves_with_it() -> None:
    fixed = _guarded(_unguarded("# the __main__ guard keeps children from running this\n"))
    assert "    # the __main__ guard keeps children from running this\n    with Pool(2)" in fixed


def test_a_comment_on_a_failure_that_names_no_guard_is_kept() -> None:
    fixed = _guarded(_unguarded("# fails if the input is empty\n"))
    assert "    # fails if the input is empty\n    with Pool(2)" in fixed
