"""Every GraphQL document the API tests send, in one place.

``test_api_schema.test_every_field_is_exercised`` parses these with the schema's type info and
fails when a schema field appears in none of them, and runs the read-only ones as an admin
expecting no errors; the other tests assert on what they return.
"""

from __future__ import annotations

ACCOUNT_FULL = """
query AccountFull($id: ID!) {
  account(id: $id) {
    id createdAt emailDomain country status signupIp
    activity {
      nInteractions inputTokens outputTokens totalTokens firstInteraction lastInteraction hourOfWeek
      categoryMix { category count share }
      nSessions nIps nDevices nTemplates nTls nCards
    }
    identifiers {
      kind value handle nAccounts count firstSeen lastSeen
      accounts(first: 2) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor uses firstSeen lastSeen node { id } }
      }
    }
    attribution {
      runId current confidence provisional controlledFrom
      operator { id label size flagged }
      run { id status current }
      evidence { kind value handle nAccounts membersSharing weight }
    }
    attributionHistory { runId current confidence operator { id retired } }
    controlEpochs { start end attributed }
    decisions { decision by at reason account { id } operator { id } }
    knownLabels { name source }
  }
}
"""

OPERATOR_FULL = """
query OperatorFull($id: ID!) {
  operator(id: $id) {
    id label labelConflict analystLabel size campaignScore flagged retired firstRunId lastRunId
    features { name value }
    topIdentifiers(first: 10) { kind value handle nAccounts membersSharing weight }
    members(first: 3) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor confidence provisional node { id } }
    }
    lineage {
      splitFrom { runId shared operator { id } }
      splitInto { runId shared operator { id } }
      mergedInto { runId shared operator { id } }
      mergedFrom { runId shared operator { id } }
    }
    timeline { day interactions inputTokens outputTokens activeAccounts }
    history { runId startedAt size campaignScore flagged label }
    decisions { decision by at reason account { id } }
  }
}
"""

OPERATORS_PAGE = """
query OperatorsPage($filter: OperatorFilter, $orderBy: OperatorOrder, $first: Int!, $after: String) {
  operators(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id label size campaignScore flagged } }
  }
}
"""

ACCOUNTS_BY_IDENTIFIER = """
query AccountsByIdentifier($identifier: IdentifierInput, $handle: String, $first: Int!, $after: String) {
  accounts(identifier: $identifier, handle: $handle, first: $first, after: $after) {
    totalCount source
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor uses firstSeen lastSeen node { id } }
  }
}
"""

CONNECTION = """
query Connection($a: ID!, $b: ID!) {
  connection(a: $a, b: $b) {
    hops
    accounts { id }
    steps { from { id } to { id } via { kind value handle nAccounts } }
  }
}
"""

RUNS = """
query Runs($first: Int!, $after: String, $status: RunStatus) {
  runs(first: $first, after: $after, status: $status) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges {
      cursor
      node {
        id status current startedAt finishedAt durationSeconds seed parameters counts metrics progress error
        timings { phase seconds }
      }
    }
  }
}
"""

RUN = """
query Run($id: ID!) { run(id: $id) { id status current progress error parameters timings { phase seconds } } }
"""

ME = "query Me { me { user role } }"

LABEL_OPERATOR = """
mutation LabelOperator($id: ID!, $label: String!) {
  labelOperator(id: $id, label: $label) { id label analystLabel }
}
"""

DECIDE = """
mutation Decide($accountId: ID!, $operatorId: ID!, $decision: DecisionKind!, $reason: String!) {
  decideAttribution(accountId: $accountId, operatorId: $operatorId, decision: $decision, reason: $reason) {
    decision by at reason account { id } operator { id }
  }
}
"""

START_RUN = "mutation StartRun { startAttributionRun { runId run { id status progress } } }"

OPERATOR_ORGANISATIONS = """
query OperatorOrganisations($id: ID!, $leads: Boolean!) {
  operator(id: $id) {
    id organisationStatus
    organisations(leads: $leads) {
      score probability rank asserted decision runId
      organisation { id name confirmed }
      operator { id }
      evidence {
        comparison level weight members popularity
        accounts { id }
        identifiers { kind value handle }
        operator { id }
      }
    }
    organisationDecisions { decision by at reason operator { id } organisation { id name } }
  }
}
"""

ORGANISATION_FULL = """
query OrganisationFull($id: ID!) {
  organisation(id: $id) {
    id name confirmed kind country source domains nOperators
    operators { id label }
    hypotheses(leads: false) { rank score asserted operator { id } }
    evidence { comparison weight members operator { id } accounts { id } identifiers { kind value } }
    accounts(first: 2) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor confidence node { id } operator { id } }
    }
  }
}
"""

ORGANISATIONS_PAGE = """
query OrganisationsPage($filter: OrganisationFilter, $first: Int!, $after: String) {
  organisations(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name confirmed nOperators } }
  }
}
"""

DECIDE_ORGANISATION = """
mutation DecideOrganisation($operatorId: ID!, $organisationId: ID!, $decision: DecisionKind!, $reason: String!) {
  decideOrganisation(operatorId: $operatorId, organisationId: $organisationId, decision: $decision, reason: $reason) {
    decision by at reason operator { id } organisation { id name confirmed }
  }
}
"""

# (document, variables) of the read-only documents, as the coverage test runs them.
READ_EXAMPLES: list[tuple[str, dict[str, object]]] = [
    (ACCOUNT_FULL, {"id": "a1"}),
    (ACCOUNT_FULL, {"id": "a4"}),
    (OPERATOR_FULL, {"id": "op-kestrel"}),
    (OPERATOR_FULL, {"id": "op-old"}),
    (OPERATORS_PAGE, {"first": 5}),
    (ACCOUNTS_BY_IDENTIFIER, {"identifier": {"kind": "DEVICE", "value": "dev-aaa-0001"}, "first": 2}),
    (CONNECTION, {"a": "a1", "b": "a8"}),
    (RUNS, {"first": 10}),
    (RUN, {"id": "run-3"}),
    (ME, {}),
    (OPERATOR_ORGANISATIONS, {"id": "op-kestrel", "leads": True}),
    (ORGANISATION_FULL, {"id": "ORG-ACME"}),
    (ORGANISATIONS_PAGE, {"first": 2}),
]

MUTATIONS = [LABEL_OPERATOR, DECIDE, START_RUN, DECIDE_ORGANISATION]
