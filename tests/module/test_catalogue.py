"""The AT catalogue against the spec's command index, the module's command table
against the catalogue, and the generated C header against the catalogue."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from peripherals.ica import IcaModule, ModuleConfig
from peripherals.ica.at import AtEngine, CommandTable, Form, Reply, catalogue

ROOT = Path(__file__).resolve().parents[2]
INDEX = Path(__file__).parent / "data" / "spec_command_index.md"
SPEC = ROOT.parent / "shared" / "spec" / "ica-at-command-set.md"   # present in CI, not for users
HEADER = ROOT / "firmware" / "lib" / "ica_at" / "ica_at_catalogue.h"
ICA_AT_C = ROOT / "firmware" / "lib" / "ica_at" / "ica_at.c"
FORM_LETTERS = {"T": {Form.TEST}, "Q": {Form.QUERY}, "E": {Form.SET, Form.EXECUTE}}


def index_rows(text: str) -> list[dict[str, str]]:
    """The rows of the spec's command index table."""
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0].startswith("`"):
            name, family, mo, forms, result, binary, section = cells
            rows.append({"name": name.strip("`").removeprefix("AT"), "family": family, "mo": mo, "forms": forms,
                         "result": result, "binary": binary, "section": section})
    return rows


ROWS = index_rows(INDEX.read_text())


def test_the_copied_index_has_every_command_of_the_spec():
    assert len(ROWS) == 42       # "42 commands in total: 39 ICA commands and 3 standard 3GPP commands"


@pytest.mark.skipif(not SPEC.exists(), reason="the spec is not next to this checkout (../shared/spec)")
def test_the_copied_index_is_the_spec_index():
    spec = SPEC.read_text()
    index = spec[spec.index("## Command index"):spec.index("## Conventions")]
    assert index_rows(index) == ROWS


@pytest.mark.parametrize("row", ROWS, ids=[r["name"] for r in ROWS])
def test_catalogue_has_the_index_row(row):
    definition = catalogue.BY_NAME.get(row["name"])
    assert definition is not None, f"{row['name']} missing from peripherals/ica/at/catalogue.py"
    assert definition.section == row["section"]
    assert definition.mandatory == (row["mo"] == "M")
    if row["family"].startswith("Standard"):
        return                                    # forms defined by 3GPP: the module's choice
    letters = [f.strip().split(" ")[0] for f in row["forms"].split(",")]
    for letter in letters:
        if letter == "URC":
            urc = catalogue.URC_BY_NAME[row["name"]]
            assert urc.trailing_ok, f"{row['name']} is a receive URC: its own OK follows"
        else:
            assert FORM_LETTERS[letter] & definition.forms, f"{row['name']} lacks the {letter} form"
    spelled = {f for letter in letters for f in FORM_LETTERS.get(letter, ())}
    assert definition.forms <= spelled | {Form.EXECUTE}, "a form the index does not give"
    if "(2 steps)" in row["forms"]:
        assert definition.data_entry is not None, "a two-step binary send has a msg_len field"
    announced = re.match(r"yes \(`(\+[A-Z]+):", row["result"])
    if announced and row["name"].startswith("+I") and "is a URC" not in row["result"]:
        assert definition.result == announced.group(1)
        assert announced.group(1) in catalogue.URC_BY_NAME
    if row["result"].startswith("no") and definition.result is not None:
        assert definition.result != row["name"], "the index says this command has no result URC"
    if "receive" in row["binary"] and "is a URC" in row["result"]:
        assert catalogue.URC_BY_NAME[row["name"]].binary


def test_catalogue_holds_nothing_the_index_lacks_but_v250_and_3gpp_commands():
    extra = set(catalogue.BY_NAME) - {r["name"] for r in ROWS}
    assert {"", "E", "I", "+CMEE"} <= extra
    assert extra == {c.name for c in catalogue.COMMANDS if c.section in ("V.250", "27.007")}


def test_every_urc_and_result_names_a_known_shape():
    for definition in catalogue.COMMANDS:
        if definition.result:
            assert definition.result in catalogue.URC_BY_NAME, definition.name
        if definition.data_entry is not None:
            assert definition.params[definition.data_entry].name == "msg_len"
    for urc in catalogue.URCS:
        assert urc.name in catalogue.BY_NAME, f"{urc.name} has no command entry"
        if urc.shape is catalogue.Shape.RESULT:
            assert catalogue.BY_NAME[urc.name].id_line, f"{urc.name}: a result shape needs an id line"
        if urc.binary:
            assert urc.trailing_ok and urc.len_field is not None


def test_the_module_mounts_exactly_the_catalogue():
    module = IcaModule(ModuleConfig())
    for definition in catalogue.COMMANDS:
        spec = module.table.get(definition.name)
        assert spec is not None, f"no handler for AT{definition.name}"
        mounted = {form for form in Form if spec.handler(form) is not None}
        assert mounted == definition.forms, definition.name
        for alias in definition.aliases:
            assert module.table.get(alias) is spec
    assert module.table.names() == set(catalogue.BY_NAME)


def test_a_table_from_the_catalogue_refuses_unknown_names_and_forms():
    table = CommandTable(catalogue.BY_NAME)
    with pytest.raises(ValueError, match="not in the catalogue"):
        table.command("+INOPE", execute=lambda c: Reply())
    with pytest.raises(ValueError, match="no EXECUTE form"):
        table.command("+IMQTTSTATE", execute=lambda c: Reply())


def test_a_catalogue_form_nobody_mounted_answers_cme_4_and_aliases_resolve():
    table = CommandTable(catalogue.BY_NAME)
    table.command("+ICOAPARA", query=lambda c: Reply(["+ICOAPARA:1"]))
    engine = AtEngine(table, echo=False)
    engine.receive(b"AT+ICOAPPARA?\rAT+ICOAPARA=?\r")
    assert engine.data_to_send() == b"\r\n+ICOAPARA:1\r\n\r\nOK\r\n\r\n+CME ERROR:4\r\n"


# ---- the C header -------------------------------------------------------------

def test_the_checked_in_c_header_is_what_the_catalogue_gives(tmp_path):
    fresh = tmp_path / "ica_at_catalogue.h"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_at_catalogue.py"), "-o", str(fresh)],
                   check=True, cwd=ROOT)
    assert HEADER.read_text() == fresh.read_text(), (
        f"{HEADER.relative_to(ROOT)} is stale: regenerate it with `python scripts/gen_at_catalogue.py`")


def test_the_generator_check_fails_on_a_stale_header_with_one_line(tmp_path):
    stale = tmp_path / "stale.h"
    stale.write_text(HEADER.read_text().replace('"+IMQTTPUB"', '"+IMQTTPUBX"'))
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_at_catalogue.py"), "--check", "-o", str(stale)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0 and "gen_at_catalogue.py" in run.stderr


def header_rows(text: str) -> list[tuple[str, ...]]:
    return re.findall(r'X\("([^"]+)", ICA_URC_SHAPE_(ALWAYS|RESULT), (\d), (-?\d+), (\d)\)', text)


def test_the_header_has_a_row_per_catalogue_urc_in_order():
    rows = header_rows(HEADER.read_text())
    assert [r[0] for r in rows] == [u.name for u in catalogue.URCS]


def test_the_firmware_urc_table_is_the_header():
    """While ica_at.c still spells its table out, it must hold the header's rows."""
    source = ICA_AT_C.read_text()
    if "ica_at_catalogue.h" in source:
        assert "ICA_URC_TABLE" in source
        return
    inline = re.findall(r'\{"(\+[A-Z]+)", SHAPE_(ALWAYS|RESULT), (\d), (-?\d+), (\d)\}', source)
    assert inline == header_rows(HEADER.read_text())
