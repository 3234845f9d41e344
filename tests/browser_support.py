"""Headless Debian chromium driven by selenium, for the dashboard's browser tests.

`missing_browser()` says why the browser tests cannot run here (None when they can): conftest's
hook skips them with that one reason, which `pytest -ra` prints as a single line.
"""

from __future__ import annotations

import importlib.util
import shutil
from typing import Any

INSTALL_HINT = "apt-get install -y chromium chromium-driver"


def missing_browser() -> str | None:
    absent = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    if importlib.util.find_spec("selenium") is None:
        absent.append("selenium (pip install -e '.[test]')")
    if not absent:
        return None
    return f"dashboard browser tests: no {', '.join(absent)} on this machine ({INSTALL_HINT})"


def headless_chromium(width: int = 1280, height: int = 900) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(shutil.which("chromium"))
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespace for chromium's sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-proxy-server",  # the tests' HTTP(S)_PROXY points at a closed port; the console is local
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(str(shutil.which("chromedriver"))))
