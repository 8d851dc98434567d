"""dynskip.utils.checks: the one input-check module (its messages are asserted by each caller's tests)."""

import pytest

from dynskip.utils.checks import check_choice


@pytest.mark.parametrize(
    ("choices", "listed"),
    [(("a",), "'a'"), (("a", "b"), "'a' or 'b'"), (("a", "b", "c"), "'a', 'b' or 'c'")],
)
def test_check_choice_lists_the_choices(choices: tuple[str, ...], listed: str) -> None:
    assert check_choice("b" if "b" in choices else "a", "mode", choices) in choices
    with pytest.raises(ValueError, match=f"^mode must be {listed}, got 'x'$"):
        check_choice("x", "mode", choices)
