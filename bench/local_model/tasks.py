"""The benchmark's tasks: a tiny repository, a plan, a hidden check and a reference solution.

The check never ships with the repository the agent sees. `tests/bench/test_local_model_tasks.py`
proves each check honest without any model: it fails on the untouched files and passes once
the reference solution is applied.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Check = Callable[[Path], str | None]
"""A check returns None when the task is solved in the directory, else what is wrong."""


@dataclass(frozen=True)
class BenchTask:
    name: str
    kind: str
    title: str
    body: str
    files: dict[str, str]
    check: Check
    solution: dict[str, str | None] = field(default_factory=dict)
    """Files to write (None: delete) that solve the task; proves the check passable."""


def _run_python(root: Path, code: str) -> str | None:
    """Run `code` in `root` (a fresh interpreter, 60 s); its stderr tail when it fails."""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    if result.returncode == 0:
        return None
    return (result.stderr or result.stdout).strip().splitlines()[-1:][0][:300] or "failed"


def _pytest(root: Path, *args: str) -> str | None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode == 0:
        return None
    lines = result.stdout.strip().splitlines()
    return lines[-1][:300] if lines else "pytest failed"


def _text(root: Path, path: str) -> str:
    target = root / path
    return target.read_text(encoding="utf-8") if target.is_file() else ""


def _check_hello(root: Path) -> str | None:
    text = _text(root, "hello.txt")
    return None if text.strip() == "Hello, world!" else f"hello.txt holds {text[:60]!r}"


def _check_greetings(root: Path) -> str | None:
    return _run_python(
        root,
        "from greetings.en import hello as en\nfrom greetings.fr import hello as fr\n"
        "assert en() == 'Hello', en()\nassert fr() == 'Bonjour', fr()\n",
    )


def _check_average(root: Path) -> str | None:
    hidden = (
        "from calc import average\n\ndef test_hidden():\n    assert average([1, 2, 3, 6]) == 3\n"
    )
    with tempfile.TemporaryDirectory() as extra:
        Path(extra, "test_hidden_calc.py").write_text(hidden, encoding="utf-8")
        return _pytest(root, "tests", str(Path(extra, "test_hidden_calc.py")), "--rootdir", ".")


def _check_rename(root: Path) -> str | None:
    leftovers = [p.name for p in root.rglob("*.py") if "get_usr" in p.read_text(encoding="utf-8")]
    if leftovers:
        return f"get_usr still in {', '.join(sorted(leftovers))}"
    return _run_python(
        root,
        "import app, report\nassert app.main() == 'ada'\nassert report.line() == 'user: ada'\n",
    )


def _check_param(root: Path) -> str | None:
    return _run_python(
        root,
        "from greet import greet\nimport main\n"
        "assert greet('Ann') == 'Hello, Ann!'\n"
        "assert greet('Ann', punctuation='?') == 'Hello, Ann?'\n"
        "assert main.run() == 'Hello, Bob?'\n",
    )


def _check_added_test(root: Path) -> str | None:
    test = root / "tests" / "test_parity.py"
    if not test.is_file():
        return "tests/test_parity.py is missing"
    with tempfile.TemporaryDirectory() as scratch:
        for version, should_pass in ((PARITY, True), (PARITY_BUG, False)):
            work = Path(scratch, "ok" if should_pass else "bug")
            (work / "tests").mkdir(parents=True)
            (work / "parity.py").write_text(version, encoding="utf-8")
            (work / "tests" / "test_parity.py").write_text(test.read_text("utf-8"), "utf-8")
            failed = _pytest(work)
            if should_pass and failed:
                return f"the new test fails on the correct is_even: {failed}"
            if not should_pass and not failed:
                return "the new test passes on a broken is_even (n % 2 == 1)"
    return None


def _check_mid_file(root: Path) -> str | None:
    text = _text(root, "rates.py")
    expected = TABLE.replace("TAX_RATE = 0.20", "TAX_RATE = 0.25")
    if text == expected:
        return None
    if "TAX_RATE = 0.25" not in text:
        return "TAX_RATE is not 0.25"
    return "other lines of rates.py changed too"


def _check_config_key(root: Path) -> str | None:
    return _run_python(
        root,
        "import config\nassert config.DEFAULTS['timeout'] == 30\n"
        "assert config.timeout() == 30 and isinstance(config.timeout(), int)\n"
        "assert config.get('name') == 'demo'\n",
    )


def _check_readme(root: Path) -> str | None:
    text = _text(root, "README.md")
    if "## Usage" not in text or "python -m tool" not in text:
        return "the Usage section was lost"
    if "## License" not in text or "MIT" not in text.split("## License", 1)[1]:
        return "no License section saying MIT"
    return None


def _check_dead_code(root: Path) -> str | None:
    text = _text(root, "utils.py")
    if "old_helper" in text:
        return "old_helper is still in utils.py"
    return _run_python(root, "import utils\nassert utils.double(2) == 4 and utils.half(4) == 2\n")


def _check_json(root: Path) -> str | None:
    return _run_python(
        root,
        "import json\ndata = json.load(open('package.json'))\n"
        "assert data['scripts']['test'] == 'pytest -q', data.get('scripts')\n"
        "assert data['name'] == 'demo' and data['version'] == '0.1.0'\n",
    )


PARITY = "def is_even(n: int) -> bool:\n    return n % 2 == 0\n"
PARITY_BUG = "def is_even(n: int) -> bool:\n    return n % 2 == 1\n"
TABLE = (
    '"""Rates and prices of the shop."""\n\n'
    + "".join(f"def price_{i:03d}() -> float:\n    return {i}.5\n\n\n" for i in range(1, 37))
    + "TAX_RATE = 0.20\n\n\n"
    + "".join(f"def discount_{i:03d}() -> float:\n    return 0.{i:02d}\n\n\n" for i in range(1, 37))
)
README = "# tool\n\nA small tool.\n\n## Usage\n\nRun `python -m tool`.\n"

TASKS = [
    BenchTask(
        "hello",
        "create a file",
        "Hello",
        "Create a file hello.txt containing the single line: Hello, world!",
        {"README.md": "# Demo\n"},
        _check_hello,
        {"hello.txt": "Hello, world!\n"},
    ),
    BenchTask(
        "greetings",
        "multi-file change",
        "Greetings package",
        "Create a package `greetings` with two modules: greetings/en.py with a function "
        "hello() that returns 'Hello', and greetings/fr.py with a function hello() that "
        "returns 'Bonjour'. Add an empty greetings/__init__.py.",
        {"README.md": "# Demo\n"},
        _check_greetings,
        {
            "greetings/__init__.py": "",
            "greetings/en.py": "def hello() -> str:\n    return 'Hello'\n",
            "greetings/fr.py": "def hello() -> str:\n    return 'Bonjour'\n",
        },
    ),
    BenchTask(
        "average",
        "fix a bug shown by a failing test",
        "Fix average",
        "The test in tests/test_calc.py fails. Fix the bug in calc.py so that it passes.",
        {
            "calc.py": "def average(values: list[float]) -> float:\n"
            "    return sum(values) / (len(values) + 1)\n",
            "tests/test_calc.py": "from calc import average\n\n\ndef test_average():\n"
            "    assert average([2, 4]) == 3\n",
        },
        _check_average,
        {
            "calc.py": "def average(values: list[float]) -> float:\n"
            "    return sum(values) / len(values)\n"
        },
    ),
    BenchTask(
        "rename",
        "rename across files",
        "Rename get_usr",
        "Rename the function get_usr in users.py to get_user, and update every place that "
        "uses it (app.py and report.py).",
        {
            "users.py": "def get_usr() -> str:\n    return 'ada'\n",
            "app.py": "from users import get_usr\n\n\ndef main() -> str:\n    return get_usr()\n",
            "report.py": "import users\n\n\ndef line() -> str:\n"
            "    return 'user: ' + users.get_usr()\n",
        },
        _check_rename,
        {
            "users.py": "def get_user() -> str:\n    return 'ada'\n",
            "app.py": "from users import get_user\n\n\ndef main() -> str:\n    return get_user()\n",
            "report.py": "import users\n\n\ndef line() -> str:\n"
            "    return 'user: ' + users.get_user()\n",
        },
    ),
    BenchTask(
        "parameter",
        "add a parameter and update callers",
        "Punctuation parameter",
        'In greet.py, add a parameter `punctuation: str = "!"` to greet() and use it instead '
        "of the fixed '!'. Then change main.py so that run() passes punctuation='?'.",
        {
            "greet.py": "def greet(name: str) -> str:\n    return f'Hello, {name}!'\n",
            "main.py": "from greet import greet\n\n\ndef run() -> str:\n    return greet('Bob')\n",
        },
        _check_param,
        {
            "greet.py": "def greet(name: str, punctuation: str = '!') -> str:\n"
            "    return f'Hello, {name}{punctuation}'\n",
            "main.py": "from greet import greet\n\n\ndef run() -> str:\n"
            "    return greet('Bob', punctuation='?')\n",
        },
    ),
    BenchTask(
        "add_test",
        "add a test that catches a bug",
        "Test is_even",
        "Add tests/test_parity.py with pytest tests of is_even from parity.py: even and odd "
        "numbers, including 0 and a negative number.",
        {"parity.py": PARITY},
        _check_added_test,
        {
            "tests/test_parity.py": "from parity import is_even\n\n\ndef test_is_even():\n"
            "    assert is_even(0) and is_even(4) and is_even(-2)\n"
            "    assert not is_even(3) and not is_even(-1)\n"
        },
    ),
    BenchTask(
        "mid_file",
        "a change in the middle of a 300-line file",
        "Tax rate",
        "In rates.py, change TAX_RATE from 0.20 to 0.25. Change nothing else.",
        {"rates.py": TABLE},
        _check_mid_file,
        {"rates.py": TABLE.replace("TAX_RATE = 0.20", "TAX_RATE = 0.25")},
    ),
    BenchTask(
        "config_key",
        "a config key with its reader",
        "Timeout setting",
        "In config.py, add a key 'timeout' with the default value 30 to DEFAULTS, and a "
        "function timeout() that returns get('timeout') as an int.",
        {
            "config.py": "DEFAULTS = {\n    'name': 'demo',\n}\n\n\n"
            "def get(key: str) -> object:\n    return DEFAULTS[key]\n",
        },
        _check_config_key,
        {
            "config.py": "DEFAULTS = {\n    'name': 'demo',\n    'timeout': 30,\n}\n\n\n"
            "def get(key: str) -> object:\n    return DEFAULTS[key]\n\n\n"
            "def timeout() -> int:\n    return int(str(get('timeout')))\n",
        },
    ),
    BenchTask(
        "readme",
        "add a documentation section",
        "License section",
        "Add a section '## License' at the end of README.md saying the project is under the "
        "MIT license. Keep the rest of README.md as it is.",
        {"README.md": README},
        _check_readme,
        {"README.md": README + "\n## License\n\nMIT\n"},
    ),
    BenchTask(
        "dead_code",
        "delete dead code",
        "Remove old_helper",
        "Remove the unused function old_helper from utils.py. Keep the other functions.",
        {
            "utils.py": "def double(x: int) -> int:\n    return x * 2\n\n\n"
            "def old_helper(x: int) -> int:\n    return x - 1\n\n\n"
            "def half(x: int) -> float:\n    return x / 2\n",
        },
        _check_dead_code,
        {
            "utils.py": "def double(x: int) -> int:\n    return x * 2\n\n\n"
            "def half(x: int) -> float:\n    return x / 2\n"
        },
    ),
    BenchTask(
        "json_key",
        "edit a data file",
        "Test script",
        'In package.json, add a "scripts" object with a "test" entry whose value is '
        '"pytest -q". Keep the other keys.',
        {"package.json": '{\n  "name": "demo",\n  "version": "0.1.0"\n}\n'},
        _check_json,
        {
            "package.json": '{\n  "name": "demo",\n  "version": "0.1.0",\n'
            '  "scripts": {\n    "test": "pytest -q"\n  }\n}\n'
        },
    ),
]


def write_files(root: Path, files: dict[str, str | None]) -> None:
    """Write (or, for None, delete) each file under `root`."""
    for path, text in files.items():
        target = root / path
        if text is None:
            target.unlink(missing_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
