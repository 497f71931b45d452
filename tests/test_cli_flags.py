"""Every on/off make variable read one way: 0/false/no/off/empty are off, anything unknown is one line."""

import pytest

from scripts import cli
from scripts.common.errors import UserError

FLAGS = sorted(
    {
        (target, variable, option)
        for target, (_, spec) in cli.TARGETS.items()
        for variable, option, kind in spec
        if kind == "flag"
    }
)


@pytest.mark.parametrize(("target", "variable", "option"), FLAGS)
@pytest.mark.parametrize("word", ["0", "false", "False", "no", "OFF", "", "  "])
def test_off_words_leave_the_flag_off(target, variable, option, word):
    env = {"QF_REPO": "me/model", "QF_INPUT": "in.csv", f"QF_{variable}": word}
    assert option not in cli.arguments(target, env)


@pytest.mark.parametrize(("target", "variable", "option"), FLAGS)
@pytest.mark.parametrize("word", ["1", "true", "Yes", "on", " ON "])
def test_on_words_turn_the_flag_on(target, variable, option, word):
    env = {"QF_REPO": "me/model", "QF_INPUT": "in.csv", f"QF_{variable}": word}
    assert option in cli.arguments(target, env)


@pytest.mark.parametrize("word", ["2", "nope", "O", "y es", "-1"])
def test_other_words_are_one_line_naming_the_variable(word):
    with pytest.raises(UserError, match=r"INCLUDE_DATA=.* is neither on nor off; use INCLUDE_DATA=1"):
        cli.arguments("push", {"QF_REPO": "me/model", "QF_INCLUDE_DATA": word})


def test_debug_is_read_the_same_way():
    assert "--debug" not in cli.arguments("eval", {"QF_DEBUG": "0"})
    assert "--debug" in cli.arguments("eval", {"QF_DEBUG": "yes"})
    with pytest.raises(UserError, match="DEBUG="):
        cli.arguments("eval", {"QF_DEBUG": "maybe"})


def test_every_target_has_at_least_one_flag_tested():
    assert {"RESUME", "PRIVATE", "DRY_RUN", "INCLUDE_DATA", "QUANTIZE"} <= {v for _, v, _ in FLAGS}


def test_every_variable_a_target_reads_is_exported_by_the_makefile():
    """A make variable missing from the Makefile's ARGS never reaches Python: `make curve METHODS=setfit`
    ran the default methods without a word."""
    import re
    from pathlib import Path

    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    listed = re.search(r"^ARGS :=((?:.*\\\n)*.*)$", makefile, re.M).group(1)
    exported = set(listed.replace("\\\n", " ").split())
    read = {variable for _, spec in cli.TARGETS.values() for variable, _, _ in spec} | {"DEBUG"}
    assert read <= exported, sorted(read - exported)
