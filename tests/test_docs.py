"""Documentation properties.

Property 2 (documentation naming consistency): no name of the project this one replaces is
left anywhere in the repository, and every resource name the documentation mentions follows
the naming scheme ``ollama-<role>-<env>`` (see ollama_infra/naming.py).

Property 3 (documentation command accuracy): every command in README.md, CONTRIBUTING.md,
docs/**.md and loadtest/README.md is extracted and checked against the repository: scripts and
files exist, ``ollama-ops`` subcommands and flags exist in the CLI's own parser, make targets
exist, ``python -m`` modules import, ``pulumi --policy-pack`` and ``locust -f`` paths exist.
They run as written once the reader has done what README.md says first: the two set-up commands,
then ``source .venv/bin/activate``; no command names a tool by its ``.venv/bin/`` path, and
``make install`` provides the tools they use. Each rule also has a test that feeds it a
deliberately wrong input and expects a report.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from pathlib import Path

import pytest
from commandcheck import (
    ACTIVATE,
    ROOT,
    Checker,
    Command,
    commands_in,
    extract_commands,
    markdown_files,
    venv_convention_problems,
)

from ollama_infra.config import ENVIRONMENTS

# --- Property 2: naming consistency ---------------------------------------------------------

# Built from parts so this file does not itself contain the names it forbids.
LEFTOVER_NAMES = re.compile(
    "|".join(("crud" + r"[-_ ]?" + "app", "education" + r"[-_ ]?" + "portal")), re.IGNORECASE
)

# Words starting with "ollama-" that are not AWS resource names: the CLI, the Python
# distribution, the node tool manifest and the boot/cleanup scripts.
NOT_RESOURCE_NAMES = frozenset(
    {
        "ollama-ops",
        "ollama-infra",
        "ollama-infra-tools",
        "ollama-install",
        "ollama-cleanup",
        "ollama-snap",  # the community snap's repository, mz2/ollama-snap (docs/UPSTREAM.md)
        # Cognito groups: named inside their pool (ollama-users-<env>), so no env suffix.
        "ollama-admins",
        "ollama-users",
    }
)
# A DR stack's names end in its suffix instead (naming.dr_suffix): prod-usw2, stg-euc1, ...
_DR_SUFFIX = r"(?:dev|stg|prod)-[a-z]+\d"
_ENV = "(?:" + "|".join((*ENVIRONMENTS, "<env>", "<stack>", "<environment>", _DR_SUFFIX)) + ")"
_SEGMENT = r"(?:[a-z0-9]+|<[a-z_-]+>)"
_ACCOUNT = r"(?:-(?:\d{12}|<account>|<account-id>|<account_id>|<account id>))"
# ollama[-<role>...]-<env>[-<account>], e.g. ollama-alb-dev, ollama-storage-<env>-<account-id>,
# ollama-<env> (the dashboard). Baked AMIs add a build timestamp (ollama-ami-<env>-<timestamp>);
# the launch template prefix ends in a dash (ollama-lt-<env>-).
RESOURCE_NAME = re.compile(
    rf"^ollama(?:-{_SEGMENT})*-{_ENV}{_ACCOUNT}?$"
    rf"|^ollama-ami-{_ENV}(?:-(?:\d{{14}}|<timestamp>))?$"
    rf"|^ollama-lt-{_ENV}-$"
)
# Lower-case "ollama-" starts a name ("Ollama-specific" is prose); upper case after it is
# captured so that a wrongly cased name is reported rather than skipped.
MENTIONED_NAME = re.compile(r"(?<![\w.-])ollama-[A-Za-z0-9<>_-]+")
# A name followed by a file extension is a file or a systemd unit (ollama-install.sh,
# ollama-ebs-warm.service), not an AWS resource.
_FILE_SUFFIX = re.compile(r"\.[a-z]")
# Account-wide resources outside every stack: the Pulumi state bucket and its KMS alias
# (a stack must not manage the bucket its own state lives in), named per account and region.
ACCOUNT_WIDE_NAME = re.compile(
    r"^ollama-pulumi-state(?:-(?:\d{12}|<account[ _-]?id>)-(?:[a-z]{2}-[a-z]+-\d|<region>))?$"
)


def tracked_files(root: Path = ROOT) -> list[Path]:
    """Tracked files plus new files not ignored (so a name added but not yet committed counts)."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [root / p for p in sorted(set(listing.split("\0"))) if p and (root / p).is_file()]


def leftover_name_violations(files: list[Path], root: Path = ROOT) -> list[str]:
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files hold no names
        for number, line in enumerate(text.splitlines(), start=1):
            for match in LEFTOVER_NAMES.finditer(line):
                found.append(f"{path.relative_to(root)}:{number}: leftover name {match.group(0)!r}")
        if LEFTOVER_NAMES.search(path.name):
            found.append(f"{path.relative_to(root)}: leftover name in the file name")
    return found


def resource_name_violations(text: str, source: str) -> list[str]:
    """Every ollama-... name mentioned in a text must follow the naming scheme."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in MENTIONED_NAME.finditer(line):
            if _FILE_SUFFIX.match(line, match.end()):
                continue
            raw = match.group(0)
            name = raw if raw.startswith("ollama-lt-") else raw.rstrip("-_")
            if name.lower() in NOT_RESOURCE_NAMES or name.lower().startswith("ollama-ops"):
                continue
            if not (RESOURCE_NAME.match(name) or ACCOUNT_WIDE_NAME.match(name)):
                found.append(
                    f"{source}:{number}: {name!r} does not follow ollama-<role>-<env> "
                    "(lowercase role words, then dev/staging/production or <env>)"
                )
    return found


def doc_files() -> list[Path]:
    return markdown_files()


def test_property_2_no_leftover_names_anywhere() -> None:
    """Property 2: no name of the replaced project in any tracked file (Requirement: docs)."""
    files = tracked_files()
    assert len(files) > 20, "git ls-files found too few files; is this a git checkout?"
    assert leftover_name_violations(files) == []


def test_property_2_leftover_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "notes.md"
    bad.write_text("Deploy the " + "crud" + "-app stack, then the Education_" + "Portal one.\n")
    named = tmp_path / ("education" + "-portal.txt")
    named.write_text("nothing here\n")
    found = leftover_name_violations([bad, named], root=tmp_path)
    assert len(found) == 3, found


def test_property_2_documented_resource_names_follow_the_scheme() -> None:
    """Property 2: every resource name the docs mention matches ollama-<role>-<env>."""
    files = doc_files()
    assert any(f.name == "README.md" for f in files)
    problems = []
    mentioned = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        mentioned += len(MENTIONED_NAME.findall(text))
        problems += resource_name_violations(text, str(path.relative_to(ROOT)))
    assert mentioned > 5, "the docs should name the stack's resources"
    assert problems == []


@pytest.mark.parametrize(
    "name",
    [
        "ollama-alb-dev",
        "ollama-data-table-staging",
        "ollama-high-cpu-production",
        "ollama-storage-<env>-<account-id>",
        "ollama-storage-dev-123456789012",
        "ollama-<role>-<env>",
        "ollama-<env>",
        "ollama-ami-dev-20260101120000",
        "ollama-ami-<env>-<timestamp>",
        "/aws/ec2/ollama-app-<env>",
        "ollama-pulumi-state-<account-id>-<region>",  # account-wide, outside the stacks
        "ollama-ebs-warm.service",  # a systemd unit, not an AWS resource
        "Ollama-specific",  # prose
    ],
)
def test_property_2_scheme_accepts_real_names(name: str) -> None:
    assert resource_name_violations(f"see `{name}`", "x.md") == []


@pytest.mark.parametrize(
    "name",
    [
        "ollama-alb-prod",  # not an environment of this project
        "ollama-alb",  # no environment
        "ollama-ALB-dev",  # upper case
        "ollama-dev-alb",  # environment before the role
        "ollama-storage-dev-1234",  # not a 12-digit account id
        "ollama-alb-dev-extra",  # a word after the environment
        "ollama-pulumi-state-prod",  # not a region or account suffix either
    ],
)
def test_property_2_scheme_rejects_wrong_names(name: str) -> None:
    assert resource_name_violations(f"the `{name}` resource", "x.md"), name


# --- Property 3: command accuracy -----------------------------------------------------------


@pytest.fixture(scope="module")
def checker() -> Checker:
    return Checker()


@pytest.fixture(scope="module")
def doc_commands() -> list[Command]:
    return list(commands_in(doc_files()))


def test_property_3_every_documented_command_exists(
    checker: Checker, doc_commands: list[Command]
) -> None:
    """Property 3: commands in README.md, docs/ and loadtest/README.md are real."""
    checked = [c for c in doc_commands if checker.is_checked(c.text)]
    assert len(checked) >= 10, "expected the docs to contain commands to check"
    heads = {c.text.split()[0] for c in checked}
    assert {"make"} <= heads, heads
    assert checker.check_all(checked) == []


def test_property_3_readme_starts_with_the_two_setup_commands() -> None:
    """The README's first commands are the two set-up commands, exactly."""
    commands = extract_commands((ROOT / "README.md").read_text(encoding="utf-8"), "README.md")
    fenced = [c.text.split("#")[0].strip() for c in commands if c.fenced]
    assert fenced[:2] == ["make plan", "make test"], fenced[:4]


def test_property_3_documented_commands_run_in_the_activated_venv(
    doc_commands: list[Command],
) -> None:
    """One convention: tools are named bare (`ollama-ops`, `locust`, `pytest`), never by
    their `.venv/bin/` path, because README.md has the reader activate the venv once."""
    assert venv_convention_problems(doc_commands) == []


def test_property_3_venv_convention_check_can_fail() -> None:
    commands = [
        Command(".venv/bin/ollama-ops plan --stack dev", "a.md:1"),
        Command("./.venv/bin/pytest tests/test_edge.py -q", "a.md:2", fenced=False),
        Command("make plan && venv/bin/locust -f loadtest/locustfile.py", "a.md:3"),
        Command(ACTIVATE, "a.md:4"),
        Command(". .venv/bin/activate && ollama-ops plan --stack dev", "a.md:5"),
    ]
    problems = venv_convention_problems(commands)
    assert [p.split(":")[1] for p in problems] == ["1", "2", "3"]
    assert "write `ollama-ops`, not .venv/bin/ollama-ops" in problems[0]
    assert ACTIVATE in problems[0]


def test_property_3_readme_activates_the_venv_right_after_the_setup_commands() -> None:
    """`source .venv/bin/activate` once, as the README's third command, before any command
    that needs it."""
    commands = extract_commands((ROOT / "README.md").read_text(encoding="utf-8"), "README.md")
    fenced = [c.text.split("#")[0].strip() for c in commands if c.fenced]
    assert fenced[:3] == ["make plan", "make test", ACTIVATE], fenced[:4]
    assert fenced.count(ACTIVATE) == 1


def test_make_install_provides_the_tools_the_docs_run(tmp_path: Path) -> None:
    """`make install` (runtime, no test tools) installs ollama-ops and locust: the extras its
    pip command names must hold locust. `make -n` prints the recipe without running it."""
    import tomllib

    done = subprocess.run(
        ["make", "-n", "-B", "install", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    (line,) = [ln for ln in done.stdout.splitlines() if "pip install" in ln and " -e " in ln]
    extras = re.findall(r"\.\[([\w,-]+)\]", line)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    installed = [
        dep
        for group in (extras[0].split(",") if extras else [])
        for dep in project["optional-dependencies"][group]
    ]
    assert any(dep.startswith("locust") for dep in installed), line
    assert "ollama-ops" in project["scripts"]


def test_extraction_finds_fenced_inline_continued_and_prompted_commands() -> None:
    text = "\n".join(
        [
            "Run `make plan` first.",
            "```bash",
            "# a comment",
            "$ ollama-ops plan --stack dev \\",
            "    --json",
            "```",
            "```yaml",
            "key: make notatarget",
            "```",
            "```mermaid",
            "graph TD; A-->B",
            "```",
        ]
    )
    found = [c.text for c in extract_commands(text, "x.md")]
    assert found == ["make plan", "ollama-ops plan --stack dev --json"]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("ollama-ops no-such-command --stack dev", "has no subcommand 'no-such-command'"),
        ("ollama-ops plan --no-such-flag", "has no option --no-such-flag"),
        ("ollama-ops plan --stack prod", "'prod' is not a stack name"),
        ("ollama-ops health --stack production-west", "'production-west' is not a stack name"),
        (".venv/bin/ollama-ops --bogus plan --stack dev", "has no option --bogus"),
        ("make no-such-target", "no target 'no-such-target'"),
        ("make plan STACK=dev && make missing-target", "no target 'missing-target'"),
        ("bash scripts/no-such-script.sh --stack dev", "scripts/no-such-script.sh does not exist"),
        ("./scripts/no-such-script.sh", "scripts/no-such-script.sh does not exist"),
        ("pwsh -File .\\scripts\\No-Such.ps1 -Stack dev", "scripts/No-Such.ps1 does not exist"),
        ("python -m ollama_infra.no_such_module", "cannot be imported"),
        ("locust -f loadtest/no_such_locustfile.py --headless", "no_such_locustfile.py"),
        ("pulumi preview --stack dev --policy-pack ollama_infra/no_such_pack", "no_such_pack"),
        ("cat docs/no-such-page.md", ""),  # `cat` is not one of ours: never reported
    ],
)
def test_property_3_checker_reports_wrong_commands(
    checker: Checker, command: str, expected: str
) -> None:
    problems = checker.check(command)
    if expected:
        assert any(expected in p for p in problems), problems
    else:
        assert problems == []


@pytest.mark.parametrize(
    "command",
    [
        "make plan STACK=production",
        "make test",
        "ollama-ops plan --stack <env> --json",
        ".venv/bin/ollama-ops plan --stack staging --json --output build/plan.json",
        "python -m ollama_infra.configdoc > docs/configuration.md",
        "pulumi up --stack dev --policy-pack ollama_infra/policy",
        "pulumi login s3://<bucket>/<prefix>",
        "locust -f loadtest/locustfile.py --headless -u 5",
    ],
)
def test_property_3_checker_accepts_real_commands(checker: Checker, command: str) -> None:
    assert checker.check(command) == []


def test_property_3_subcommand_walk_uses_nested_parsers() -> None:
    """Nested subcommands (e.g. `ollama-ops models add`) are walked level by level."""
    parser = argparse.ArgumentParser(prog="ollama-ops")
    sub = parser.add_subparsers(dest="command", required=True)
    models = sub.add_parser("models")
    models_sub = models.add_subparsers(dest="action", required=True)
    add = models_sub.add_parser("add")
    add.add_argument("--stack", choices=ENVIRONMENTS, required=True)
    add.add_argument("model")
    checker = Checker(parser=parser)
    assert checker.check("ollama-ops models add --stack dev llama3.2:1b") == []
    assert checker.check("ollama-ops models remove --stack dev x")
    assert checker.check("ollama-ops models add --force llama3.2:1b")
    assert checker.check("ollama-ops models --stack dev add x"), "--stack belongs to `add`"


# --- references to tests (the production-readiness checklist points at its proofs) ---------

TEST_REFERENCE = re.compile(r"`((?:tests|loadtest)/[\w/]+\.py)::(\w+)`")


def cited_test_violations(text: str, source: str, root: Path = ROOT) -> list[str]:
    """Every `path.py::name` a document cites names a function defined in that file."""
    import ast

    found = []
    for path, name in TEST_REFERENCE.findall(text):
        file = root / path
        if not file.is_file():
            found.append(f"{source}: {path} does not exist")
            continue
        tree = ast.parse(file.read_text(encoding="utf-8"))
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        if name not in defined:
            found.append(f"{source}: {path} defines no {name}")
    return found


def test_cited_tests_exist() -> None:
    """The checklist's proofs are real tests (a renamed test must update the checklist)."""
    checklist = ROOT / "docs" / "production-readiness.md"
    assert len(TEST_REFERENCE.findall(checklist.read_text(encoding="utf-8"))) >= 30
    problems = []
    for path in doc_files():
        text = path.read_text(encoding="utf-8")
        problems += cited_test_violations(text, str(path.relative_to(ROOT)))
    assert problems == []


def test_cited_test_check_can_fail() -> None:
    text = (
        "`tests/test_docs.py::test_cited_tests_exist` "
        "`tests/test_docs.py::test_that_was_renamed` `tests/test_gone.py::test_x`"
    )
    assert len(cited_test_violations(text, "x.md")) == 2


# --- relative links between documents -----------------------------------------------------

MARKDOWN_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def broken_link_violations(path: Path, root: Path = ROOT) -> list[str]:
    """Relative links of a Markdown file point at files that exist (anchors and URLs skipped)."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for target in MARKDOWN_LINK.findall(line):
            if "://" in target or target.startswith(("#", "mailto:")):
                continue
            file = (path.parent / target.split("#", 1)[0]).resolve()
            if not file.exists():
                found.append(f"{path.relative_to(root)}:{number}: link to {target} is broken")
    return found


def test_relative_links_resolve() -> None:
    problems = [v for f in doc_files() for v in broken_link_violations(f)]
    assert problems == []


def test_broken_link_check_can_fail(tmp_path: Path) -> None:
    doc = tmp_path / "docs" / "x.md"
    doc.parent.mkdir()
    (tmp_path / "README.md").write_text("top\n")
    doc.write_text("[ok](../README.md) [anchor](#a) [web](https://example.com) [bad](gone.md)\n")
    assert broken_link_violations(doc, root=tmp_path) == ["docs/x.md:1: link to gone.md is broken"]


# --- the architecture document keeps its required sections ---------------------------------

ARCHITECTURE_SECTIONS = (
    "## Components",
    "## Network flow",
    "## Request flow",
    "## Ollama-specific design",
    "### Model catalog",
    "### Shared Open WebUI state",
    "### API authentication",
)


def architecture_violations(text: str) -> list[str]:
    headings = {line.strip() for line in text.splitlines() if line.startswith("#")}
    found = [f"missing section {s!r}" for s in ARCHITECTURE_SECTIONS if s not in headings]
    if text.count("```mermaid") < 2:
        found.append("expected Mermaid diagrams of the components and the network flow")
    return found


def test_architecture_document_has_its_sections_and_diagrams() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    assert architecture_violations(text) == []


def test_architecture_check_can_fail() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    broken = text.replace("### API authentication", "### Auth").replace("```mermaid", "```")
    assert len(architecture_violations(broken)) == 2
