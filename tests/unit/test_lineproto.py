"""InfluxDB line protocol parsing: values, escapes, precision, and errors by line."""

from __future__ import annotations

import random

import pytest

from netweave.assurance import LineProtocolError, SeriesKey, parse
from netweave.assurance.lineproto import LineParser, precision_ns

NOW = 1_700_000_000_000_000_000


def samples(text: str, precision: str = "ns") -> list[tuple[SeriesKey, int, float]]:
    parsed = parse(text, precision, now_ns=NOW)
    parsed.raise_errors()
    batch = parsed.batch
    return [
        (batch.keys[k], int(t), float(v))
        for k, t, v in zip(batch.key_index, batch.timestamps, batch.values, strict=True)
    ]


def error_of(text: str) -> tuple[int, str]:
    errors = parse(text, now_ns=NOW).errors
    assert len(errors) == 1, errors
    return errors[0].line, errors[0].reason


def test_one_series_per_field_with_sorted_tags() -> None:
    got = samples("net,port=p1,device=s1 rx=1.5,tx=2i,up=t,down=FALSE 10")
    tags = (("device", "s1"), ("port", "p1"))
    assert got == [
        (SeriesKey("net.rx", tags), 10, 1.5),
        (SeriesKey("net.tx", tags), 10, 2.0),
        (SeriesKey("net.up", tags), 10, 1.0),
        (SeriesKey("net.down", tags), 10, 0.0),
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1.0),
        ("-1.5e3", -1500.0),
        (".5", 0.5),
        ("1.", 1.0),
        ("-3i", -3.0),
        ("9223372036854775807i", 9.223372036854775807e18),
        ("18446744073709551615u", 1.8446744073709552e19),
        ("t", 1.0),
        ("T", 1.0),
        ("true", 1.0),
        ("True", 1.0),
        ("TRUE", 1.0),
        ("f", 0.0),
        ("F", 0.0),
        ("false", 0.0),
        ("False", 0.0),
    ],
)
def test_field_values(text: str, value: float) -> None:
    assert samples(f"m v={text} 1")[0][2] == value


def test_points_without_timestamp_get_now_and_comments_and_blanks_are_skipped() -> None:
    got = samples("# a comment\n\n  \r\nm v=1\r\nm v=2 5\n")
    assert [(t, v) for _, t, v in got] == [(NOW, 1.0), (5, 2.0)]


@pytest.mark.parametrize(
    ("precision", "scale"),
    [("ns", 1), ("u", 1000), ("ms", 10**6), ("s", 10**9), ("h", 3600 * 10**9)],
)
def test_precision_scales_timestamps(precision: str, scale: int) -> None:
    assert samples("m v=1 7", precision)[0][1] == 7 * scale
    assert precision_ns(precision) == scale


def test_bad_precision_names_choices() -> None:
    with pytest.raises(ValueError, match=r"precision: 'sec' is not one of ns, n, us"):
        parse("m v=1", "sec")


def test_escapes_in_measurement_tags_and_field_keys() -> None:
    text = "my\\ cpu\\,x,ta\\ g\\=k=v\\,a\\ l\\=ue f\\,i\\=e\\ ld=1,back\\slash=2 3"
    got = samples(text)
    tags = (("ta g=k", "v,a l=ue"),)
    assert got == [
        (SeriesKey("my cpu,x.f,i=e ld", tags), 3, 1.0),
        (SeriesKey("my cpu,x.back\\slash", tags), 3, 2.0),
    ]


def test_equals_sign_in_measurement_needs_no_escape() -> None:
    assert samples("a=b v=1 1")[0][0] == SeriesKey("a=b.v", ())


def test_string_fields_are_read_but_not_stored() -> None:
    text = 'log,host=a msg="say \\"hi\\", a b=c \\\\",level=3i 9'
    parsed = parse(text, now_ns=NOW)
    assert parsed.errors == []
    assert parsed.strings_dropped == 1
    assert parsed.points == 1
    assert parsed.batch.keys == [SeriesKey("log.level", (("host", "a"),))]
    assert parsed.batch.values.tolist() == [3.0]


def test_quote_in_tag_value_is_literal() -> None:
    assert samples('m,t="x" v=1 1')[0][0] == SeriesKey("m.v", (("t", '"x"'),))


def test_bad_lines_are_reported_by_number_and_good_ones_kept() -> None:
    parsed = parse("m v=1 1\nm v=oops 2\nm v=3 3\nm\n", now_ns=NOW)
    assert [(e.line, e.reason.split(":")[0]) for e in parsed.errors] == [
        (2, "field 'v'"),
        (4, "missing fields"),
    ]
    assert parsed.batch.values.tolist() == [1.0, 3.0]
    with pytest.raises(
        LineProtocolError, match=r"^line 2: field 'v': 'oops' is not a number.*1 more"
    ):
        parsed.raise_errors()


def test_a_bad_field_drops_its_whole_line() -> None:
    parsed = parse("m a=1,b=x 1", now_ns=NOW)
    assert len(parsed.batch) == 0
    assert parsed.batch.keys == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("m", "missing fields"),
        ("m v=1 2 3", "4 space-separated sections"),
        (",t=v v=1", "missing measurement"),
        ("m,t v=1", "tag 't': expected key=value"),
        ("m,t= v=1", "tag 't=': expected key=value"),
        ("m,t=a=b v=1", "tag 't=a=b'"),
        ("m,t=a,t=b v=1", "tag 't' appears twice"),
        ("m v", "field 'v': missing value"),
        ("m =1", "field '=1': missing field name"),
        ("m v=1,v=2", "field 'v' appears twice"),
        ("m v=", "field 'v': missing value"),
        ("m v=abc", "field 'v': 'abc' is not a number"),
        ("m v=1_000", "field 'v': '1_000' is not a number"),
        ("m v=nan", "not finite"),
        ("m v=inf", "not finite"),
        ("m v=1.5i", "'1.5i' is not an integer"),
        ("m v=-1u", "'-1u' is not an unsigned integer"),
        ("m v=9223372036854775808i", "out of range for a 64-bit integer"),
        ("m v=18446744073709551616u", "out of range for a 64-bit unsigned integer"),
        ("m v=1 12a", "timestamp '12a' is not an integer"),
        ("m v=1 99999999999999999999", "out of range"),
        ('m s="abc', "unterminated string"),
        ('m s="a"b', "string value must end with an unescaped"),
        ('m s="a"b"c"', "must be escaped"),
        ('m s="abc\\"', "unterminated string"),
        ("m v=\u0661", "is not a number"),
    ],
)
def test_errors_name_the_line_and_the_problem(text: str, reason: str) -> None:
    line, message = error_of(f"m ok=1 1\n{text}")
    assert line == 2
    assert reason in message


def test_escaped_lines_are_checked_too() -> None:
    assert "missing fields" in error_of("a\\ b")[1]
    assert "tag 't x': expected key=value" in error_of("m,t\\ x v=1")[1]


def test_parser_reuses_keys_across_calls() -> None:
    parser = LineParser()
    first = parser.parse("m,t=a v=1 1").batch.keys[0]
    second = parser.parse("m,t=a v=2 2").batch.keys[0]
    assert first is second
    assert parser.parse("m,t=a v=x 3").errors[0].line == 1


def test_a_rejected_line_leaves_no_series_behind() -> None:
    parsed = parse("m v=1,v=2 1\nm w=3 1\nn,t=a x=1,y=oops 1", now_ns=NOW)
    assert [e.line for e in parsed.errors] == [1, 3]
    assert parsed.batch.keys == [SeriesKey("m.w", ())]
    assert parsed.batch.key_index.tolist() == [0]


def test_fast_and_full_paths_agree() -> None:
    plain = "m,t=a a=1.5,b=2i,c=-3i,d=t,e=1e3 7"
    escaped = 'm,t=a a=1.5,b=2i,c=-3i,d=t,e=1e3,s="x" 7'
    assert samples(plain) == samples(escaped)


def test_random_text_is_parsed_or_reported_never_raised() -> None:
    rng = random.Random(3)
    alphabet = 'ab=, \\"\t1.5ie-#tu\r'
    lines = ["".join(rng.choices(alphabet, k=rng.randint(0, 24))) for _ in range(5_000)]
    together = parse("\n".join(lines), now_ns=NOW)
    reported = {error.line for error in together.errors}
    assert len(reported) == len(together.errors)
    alone = [parse(line, now_ns=NOW) for line in lines]
    assert {n for n, one in enumerate(alone, 1) if one.errors} == reported
    assert together.points == sum(one.points for one in alone) > 0
    assert len(together.batch) == sum(len(one.batch) for one in alone)
