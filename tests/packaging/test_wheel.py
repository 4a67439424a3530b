"""The wheel, installed into a fresh venv in a temporary folder outside the
repository, runs the example project (examples/) there: its pytest tests with
pytest-xdist, its Robot suite and its scenario with `pysim run`.

The wheel itself is installed with pip (no dependencies, no index); the
dependencies come from this repository's venv through a .pth file that lists a
folder of links to its site-packages without this project's editable install,
so the run needs no network and takes seconds (a full `pip install` of the
dependencies takes over a minute here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THIS_PROJECT = ("__editable__", "ica_pysim", "pysim", "peripherals", "platforms", "IcaLibrary")

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                reason="needs qemu-system-arm and arm-none-eabi-gcc: `make deps` installs them (Debian)")


def run(*argv: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180
        ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, argv))} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the fresh venv's python, the example project's copy), both outside the repository."""
    work = tmp_path_factory.mktemp("packaging")
    assert ROOT not in work.parents
    source = work / "source"   # a copy: setuptools' build/ and egg-info stay out of the repository
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache", "results", ".renode", "pysim-traces"))
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", work / "dist", source,
        cwd=work)
    wheel, = (work / "dist").glob("ica_pysim-*.whl")
    run(sys.executable, "-m", "venv", "--without-pip", work / "venv", cwd=work)
    python = work / "venv" / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=work).stdout.strip())
    deps = work / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(THIS_PROJECT) and entry.suffix != ".pth":
            (deps / entry.name).symlink_to(entry)
    (site / "repository-deps.pth").write_text(f"{deps}\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", "--no-index", wheel, cwd=work)
    run("make", "-s", "-C", ROOT / "examples" / "firmware", cwd=work)
    project = work / "project"
    shutil.copytree(ROOT / "examples", project, ignore=shutil.ignore_patterns("pysim-traces", "__pycache__"))
    return python, project


def venv_env(python: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYSIM_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_wheel_holds_boards_scenarios_and_the_robot_library(installed):
    python, project = installed
    where = run(python, "-c", "import pysim, platforms, IcaLibrary, pysim.emulators.board as b; "
                "from pysim.scenario import builtin_scenario as s; "
                "print(pysim.__file__, IcaLibrary.__file__, b.Board.load('netduinoplus2').path, s('demo'), sep='\\n')",
                cwd=project, env=venv_env(python)).stdout.split()
    site = str(python.parents[1])
    assert all(path.startswith(site) and Path(path).exists() for path in where), where
    done = run(python, "-m", "pip", "check", cwd=project, env=venv_env(python))
    assert "No broken requirements" in done.stdout


def test_example_project_pytest_under_xdist(installed):
    python, project = installed
    run(python, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--junitxml=out/pytest.xml", cwd=project,
        env=venv_env(python))
    cases = list(ET.parse(project / "out" / "pytest.xml").getroot().iter("testcase"))
    assert len(cases) == 7 and not any(c.find("failure") is not None or c.find("error") is not None for c in cases)


def test_example_project_robot_suite(installed):
    python, project = installed
    done = run(python, "-m", "robot", "--outputdir", "out/robot", "robot/", cwd=project, env=venv_env(python))
    assert "3 tests, 3 passed, 0 failed" in done.stdout


def test_example_project_scenario_with_the_installed_runner(installed):
    python, project = installed
    done = run(python.parent / "pysim", "run", "--firmware", "firmware/build/thermostat.elf",
               "--device", "a1thermoPK:thermostat-01:thermo-secret-01", "--scenario", "scenarios/smoke.yaml",
               "--junit", "out/scenario.xml", "--quiet", cwd=project, env=venv_env(python))
    assert "verdict: PASS" in done.stdout
    assert ET.parse(project / "out" / "scenario.xml").getroot().find("testsuite").get("failures") == "0"
