"""Reading topology descriptors (YAML or JSON) with errors that point at the line."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace

import yaml
from pydantic import ValidationError

from netweave.inventory.errors import Invalid, Loc, Problem
from netweave.model import TopologyDescriptor


@dataclass(frozen=True)
class LineMap:
    """The source line of each node of a parsed document, by location."""

    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its nearest enclosing node that has one."""
        for size in range(len(loc), -1, -1):
            if (line := self.lines.get(loc[:size])) is not None:
                return line
        return None

    def locate(self, problem: Problem) -> Problem:
        return (
            problem
            if problem.line is not None
            else replace(problem, line=self.line_of(problem.loc))
        )


def load_descriptor(
    text: str, filename: str = "<descriptor>"
) -> tuple[TopologyDescriptor, LineMap]:
    """Parse and validate a descriptor; a `.json` file (or text starting with ``{``) is
    read as JSON, anything else as YAML. Raises `Invalid` with line numbers."""
    if filename.endswith(".json") or text.lstrip().startswith("{"):
        data = _parse_json(text)
        try:  # JSON is YAML too, almost always: use it for the line numbers
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError:
            node = None
    else:
        node = _compose_yaml(text)
        data = None if node is None else yaml.SafeLoader("").construct_document(node)
    lines = LineMap()
    if node is not None:
        _record_lines(node, (), lines.lines)
    if not isinstance(data, dict):
        raise Invalid((), "a descriptor is a mapping with 'devices' and 'links' at the top level")
    try:
        return TopologyDescriptor.model_validate(data), lines
    except ValidationError as exc:
        problems = Invalid.from_validation(exc).problems
        raise Invalid.of([lines.locate(p) for p in problems]) from exc


def _parse_json(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problem = Problem(
            (), f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", exc.lineno
        )
        raise Invalid.of([problem]) from exc


def _compose_yaml(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "malformed document"
        if mark is None:
            raise Invalid((), f"invalid YAML: {reason}") from exc
        line, column = mark.line + 1, mark.column + 1
        problem = Problem((), f"invalid YAML: {reason} (line {line}, column {column})", line)
        raise Invalid.of([problem]) from exc


def _record_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                child = (*loc, str(key.value))
                lines[child] = key.start_mark.line + 1
                _record_lines(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*loc, index), lines)


def dump_descriptor(descriptor: TopologyDescriptor) -> str:
    """`descriptor` as YAML, defaults left out, in declaration order."""
    data = descriptor.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, sort_keys=False)
