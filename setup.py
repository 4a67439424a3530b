"""Package layout that pyproject.toml cannot say alone: the Robot library lives in
robot/IcaLibrary/ in the repository and installs as the top-level package
``IcaLibrary`` (a package named ``robot`` would hide Robot Framework's own)."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["pysim", "pysim.*", "peripherals", "peripherals.*", "platforms"]) + ["IcaLibrary"],
    package_dir={"IcaLibrary": "robot/IcaLibrary"},
)
