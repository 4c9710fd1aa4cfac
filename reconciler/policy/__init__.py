"""Policy as code: Rego policies checked against every plan, in a sandboxed child process.

    sources = policy_sources(config_dir, os.environ, policy_dirs)
    doc = build_input(plan_doc, fleet_from_plan(plan_doc), workspace, providers)
    report = evaluate_policies(doc, sources)        # PolicyReport; PolicyError if broken
    refusal(report)                                 # "Plan refused by 2 policies" or None

``lexer`` and ``scan`` read policies (packages, rule heads, refused builtins, input paths),
``sources`` finds and reads them, ``inputdoc`` builds the input and its JSON Schema,
``engine`` evaluates and tests, ``sandbox`` runs ``worker`` in a child process, ``render``
prints results, ``results`` holds what an evaluation returns. docs/policy.md has the rules.
"""

from reconciler.policy.engine import evaluate_policies, run_policy_tests
from reconciler.policy.inputdoc import (
    build_input,
    fleet_from_plan,
    policy_input_schema,
    providers_entry,
)
from reconciler.policy.render import (
    policy_junit,
    policy_junit_cases,
    policy_markdown,
    policy_text,
    result_line,
    summary_line,
    tests_text,
)
from reconciler.policy.results import (
    PolicyError,
    PolicyReport,
    PolicyResult,
    TestReport,
    refusal,
)
from reconciler.policy.sandbox import Limits
from reconciler.policy.sources import PolicySource, policy_sources

__all__ = [
    "Limits",
    "PolicyError",
    "PolicyReport",
    "PolicyResult",
    "PolicySource",
    "TestReport",
    "build_input",
    "evaluate_policies",
    "fleet_from_plan",
    "policy_input_schema",
    "policy_junit",
    "policy_junit_cases",
    "policy_markdown",
    "policy_sources",
    "policy_text",
    "providers_entry",
    "refusal",
    "result_line",
    "run_policy_tests",
    "summary_line",
    "tests_text",
]
