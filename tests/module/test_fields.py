"""The one quoted-field splitter (peripherals/ica/at/fields.py), as the module reads
arguments (strict), as the TE client and the trace read response lines (lenient), and
with a compatibility profile's escapes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from peripherals.ica.at import BadParams
from peripherals.ica.at.fields import Arg, field_texts, find_outside_quotes, quote, split_fields

S, B = True, False   # quoted, bare

# (text, fields) read the same in both modes
CASES = [
    ("", [("", B)]),
    ("1", [("1", B)]),
    ("1,2", [("1", B), ("2", B)]),
    (" 1 , 2 ", [("1", B), ("2", B)]),
    ('"a,b",3', [("a,b", S), ("3", B)]),
    ('"a\\"b"', [('a"b', S)]),
    ('"a\\\\b"', [("a\\b", S)]),
    ('"a\\nb"', [("a\\nb", S)]),                 # other backslashes stay
    ('"",', [("", S), ("", B)]),
    ('"x" , "y"', [("x", S), ("y", S)]),
    ("a;b", [("a;b", B)]),
]
# (text, lenient fields); strict reading raises BadParams
BAD = [
    ('"open', [("open", S)]),
    ('"a"b,1', [("a", S), ("1", B)]),
    ('1"2', [('1"2', B)]),
]


@pytest.mark.parametrize("text,fields", CASES)
@pytest.mark.parametrize("strict", [True, False])
def test_fields(text, fields, strict):
    assert split_fields(text, strict=strict) == [Arg(t, q) for t, q in fields]


@pytest.mark.parametrize("text,fields", BAD)
def test_bad_syntax_is_bad_params_strictly_and_read_leniently(text, fields):
    with pytest.raises(BadParams):
        split_fields(text, strict=True)
    assert split_fields(text) == [Arg(t, q) for t, q in fields]


def test_a_profile_that_escapes_only_quotes():
    assert split_fields('"a\\\\b","x\\\\""', strict=True, escapes='"') == [Arg("a\\\\b", S), Arg('x\\"', S)]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.text(st.characters(max_codepoint=0xFF, blacklist_characters="\r\n")), min_size=1, max_size=5))
def test_quoted_strings_read_back(values):
    text = ",".join(quote(v) for v in values)
    assert split_fields(text, strict=True) == [Arg(v, S) for v in values]
    assert split_fields(text) == [Arg(v, S) for v in values]


TEXT = st.text(st.sampled_from(list('ab1 \t,;"\\')), max_size=30)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(TEXT)
def test_field_texts_reads_as_the_lenient_splitter(text):
    # field_texts takes a str.split shortcut for a line without quotes
    assert field_texts(text) == [arg.text for arg in split_fields(text)]


@settings(max_examples=500, deadline=None, derandomize=True)
@given(TEXT, st.integers(0, 5), st.sampled_from([";", ",", ",;"]))
def test_find_outside_quotes_as_a_walk_would(text, start, stops):
    # find_outside_quotes takes a str.find shortcut; this is the character walk it stands for
    i, in_quote, found = min(start, len(text)), False, len(text)
    while i < len(text):
        c = text[i]
        if in_quote and c == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            i += 2
            continue
        if c == '"':
            in_quote = not in_quote
        elif not in_quote and c in stops:
            found = i
            break
        i += 1
    assert find_outside_quotes(text, min(start, len(text)), stops) == found
