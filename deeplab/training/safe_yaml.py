"""Reading experiment YAML without letting the text decide how much memory or stack it takes.

PyYAML's ``safe_load`` builds only plain values, but it still expands what a hostile or mistaken
file asks for: an anchor bomb (``a: &a [x, x]``, ``b: &b [*a, *a]``, ... nine levels give a
billion strings once anything walks or prints the value), nesting deep enough to exhaust the
stack (a ``RecursionError`` traceback), and a repeated key silently wins over the first one.
:func:`load_yaml` refuses all of them with one line that says where: the text is at most
:data:`MAX_BYTES`, nested at most :data:`MAX_DEPTH` levels, at most :data:`MAX_NODES` values
once aliases are expanded, and no mapping repeats a key.
"""

from __future__ import annotations

import yaml

from deeplab.training.typed_values import short_repr

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_NODES = 100_000


class YamlLimitError(ValueError):
    """YAML text over one of the limits, or with a repeated key."""


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "?"


def _expanded_size(root: yaml.Node) -> int:
    """How many values ``root`` stands for once every alias is written out (memoised, so a
    bomb is measured without being expanded); stops counting past the limit."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YamlLimitError(f"{_where(node.start_mark)}: an alias refers to a value that "
                                 f"contains it (a recursive structure)")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_NODES:
                break
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with a nesting limit, an expanded-size limit and unique keys."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlLimitError(f"{_where(self.peek_event().start_mark)}: nested more than "
                                     f"{MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self):
        node = super().get_single_node()
        if node is not None and _expanded_size(node) > MAX_NODES:
            raise YamlLimitError(f"{_where(node.start_mark)}: the aliases (*name) expand to more "
                                 f"than {MAX_NODES} values; write the values out instead")
        return node

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key: the constructor says so itself
                    continue
                if first is not key_node:
                    raise YamlLimitError(
                        f"{_where(key_node.start_mark)}: key {short_repr(key)} appears twice "
                        f"(first at {_where(first.start_mark)}); keep one")
        return super().construct_mapping(node, deep=deep)


def _problem(error: yaml.YAMLError) -> str:
    """One line from a YAML error: its problem and where (1-based line and column)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is None:
        return problem
    return f"{_where(mark)}: {problem}"


def load_yaml(text: str, what: str):
    """The value of YAML ``text`` within the limits above; ``ValueError`` saying what is wrong
    and where (``what`` names the file or the ``--set`` override)."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"{what}: {len(text)} characters, over the limit of {MAX_BYTES} "
                             f"for a config")
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except YamlLimitError as error:
        raise YamlLimitError(f"{what}: {error}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{what}: not valid YAML: {_problem(error)}") from None
    except RecursionError:
        raise YamlLimitError(f"{what}: nested too deeply") from None
    finally:
        loader.dispose()
