"""A static cost estimate of a GraphQL operation: page sizes multiply down the query.

Depth, alias and token limits bound a document's *text*, not its *work*:
``operators(first: 100) { members(first: 100) { ... identifiers { accounts(first: 100) ... } } }``
is a short, shallow-enough document that asks for about 10^7 rows. The estimate counts every
field once per object it is selected on: a field inside a list counts once per element, and a
list's length is the page size asked for (``first``: its literal, its variable, or the schema's
default; capped at the page-size limit, since larger values are refused anyway), or for lists
without a page argument the typical length in ``LIST_SIZES``. This is the "estimated
complexity" of GitHub's GraphQL API (nodes requested, multiplying ``first`` down the query), and
of Hartig and Pérez's result-size bounds ("Semantics and complexity of GraphQL", WWW 2018) made
static. It runs after validation and before execution, so a refused query costs no database
work; nothing here imports a database or runs a resolver.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

__all__ = ["DEFAULT_LIST_SIZE", "LIST_SIZES", "estimate_cost"]

# Typical lengths of lists that take no page argument (one investigation's worth, rounded up).
LIST_SIZES: dict[str, int] = {
    "Account.identifiers": 20,
    "Account.attributionHistory": 5,
    "Account.decisions": 5,
    "Account.knownLabels": 3,
    "Attribution.evidence": 10,
    "Operator.features": 10,
    "Operator.timeline": 90,
    "Operator.history": 10,
    "Operator.decisions": 10,
    "Operator.organisations": 5,
    "Operator.organisationDecisions": 5,
    "OrganisationHypothesis.evidence": 8,
    "OrganisationTie.accounts": 20,
    "OrganisationTie.identifiers": 20,
    "Organisation.operators": 5,
    "Organisation.hypotheses": 10,
    "Organisation.evidence": 20,
    "Organisation.domains": 3,
    "OperatorLineage.splitFrom": 3,
    "OperatorLineage.splitInto": 3,
    "OperatorLineage.mergedInto": 3,
    "OperatorLineage.mergedFrom": 3,
    "EvidencePath.steps": 4,
    "EvidencePath.accounts": 5,
    "ActivitySummary.categoryMix": 8,
    "AttributionRun.timings": 10,
}
DEFAULT_LIST_SIZE = 10


def estimate_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    max_page: int,
) -> int:
    """Fields the operation would return at most (typical list lengths where none is asked for)."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    walk = _Walk(schema, document, operation, variables or {}, max_page)
    return walk.selection(root, operation.selection_set, 1, None, frozenset())


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        max_page: int,
    ) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.defaults = {
            d.variable.name.value: d.default_value for d in operation.variable_definitions or () if d.default_value is not None
        }
        self.variables = variables
        self.max_page = max_page

    def selection(
        self, parent: Any, selection_set: SelectionSetNode, multiplier: int, page: int | None, seen: frozenset[str]
    ) -> int:
        """Cost of ``selection_set`` on ``multiplier`` objects of type ``parent``; ``page`` is the
        page size of the connection being walked (its ``edges`` list has that length)."""
        total = 0
        for node in selection_set.selections or ():
            if isinstance(node, FieldNode):
                total += self.field(parent, node, multiplier, page, seen)
            elif isinstance(node, InlineFragmentNode):
                target = self.schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                total += self.selection(target or parent, node.selection_set, multiplier, page, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:  # validation refuses both; never loop here
                    continue
                target = self.schema.get_type(fragment.type_condition.name.value) or parent
                total += self.selection(target, fragment.selection_set, multiplier, page, seen | {name})
        return total

    def field(self, parent: Any, node: FieldNode, multiplier: int, page: int | None, seen: frozenset[str]) -> int:
        name = node.name.value
        if name.startswith("__"):  # __typename, and introspection: bounded by the schema, no database work
            return multiplier
        definition: GraphQLField | None = parent.fields.get(name) if isinstance(parent, GraphQLObjectType) else None
        if definition is None:  # an invalid field (validation refuses it first)
            return multiplier
        cost = multiplier
        if node.selection_set is None:
            return cost
        first = self.first(node, definition)
        own_page = first if first is not None else None
        if _is_list(definition.type):
            length = own_page if own_page is not None else (page if page is not None else self.list_size(parent, name))
            return cost + self.selection(get_named_type(definition.type), node.selection_set, multiplier * length, None, seen)
        # A connection (an object with a page argument) hands its page size to its edges list.
        return cost + self.selection(get_named_type(definition.type), node.selection_set, multiplier, own_page, seen)

    def first(self, node: FieldNode, definition: GraphQLField) -> int | None:
        if "first" not in definition.args:
            return None
        value: Any = definition.args["first"].default_value
        for arg in node.arguments or ():
            if arg.name.value != "first":
                continue
            if isinstance(arg.value, IntValueNode):
                value = int(arg.value.value)
            elif isinstance(arg.value, VariableNode):
                var = arg.value.name.value
                if var in self.variables:
                    value = self.variables[var]
                elif isinstance(self.defaults.get(var), IntValueNode):
                    value = int(self.defaults[var].value)  # type: ignore[union-attr]
        if not isinstance(value, int) or isinstance(value, bool):
            return self.max_page
        return max(0, min(value, self.max_page))

    @staticmethod
    def list_size(parent: Any, name: str) -> int:
        return LIST_SIZES.get(f"{getattr(parent, 'name', '')}.{name}", DEFAULT_LIST_SIZE)


def _is_list(type_: GraphQLOutputType) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)
