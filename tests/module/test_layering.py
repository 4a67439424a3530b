"""Layers point one way: the module model (``peripherals``) imports nothing from the
simulator (``pysim``), and nothing imports in a circle (contracts in ``.importlinter``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; "
        "sys.exit(lint_imports_command())", "--no-cache", "--no-logo"]


def test_the_module_model_imports_and_runs_with_pysim_blocked():
    script = textwrap.dedent("""
        import importlib, pkgutil, sys
        sys.modules["pysim"] = None          # any import of pysim now fails
        import peripherals
        for info in pkgutil.walk_packages(peripherals.__path__, "peripherals."):
            importlib.import_module(info.name)
        from peripherals.ica import IcaModule, ModuleConfig
        module = IcaModule(ModuleConfig(echo=False))
        out = bytearray()
        module.on_output = out.extend
        module.feed(b"AT+IMQTTSTATE?\\r")
        assert bytes(out) == b"\\r\\n+IMQTTSTATE:0\\r\\n\\r\\nOK\\r\\n", bytes(out)
        assert not [name for name in sys.modules if name.startswith("pysim.")]
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr


def test_import_contracts_are_kept():
    run = subprocess.run(LINT, capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_the_layer_contract_catches_a_model_importing_the_simulator(tmp_path):
    """The contracts can fail: a peripherals that imports pysim breaks the first one."""
    for package, body in (("pysim", ""), ("peripherals", "import pysim\n")):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text(body)
    config = tmp_path / "contracts.ini"
    text = (ROOT / ".importlinter").read_text()
    config.write_text(text[:text.index("[importlinter:contract:module-layers]")])
    run = subprocess.run([*LINT, str(config)], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "peripherals -> pysim" in run.stdout
