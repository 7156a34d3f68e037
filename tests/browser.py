"""A headless Chromium for the tests that open jbp's pages, found on this machine and driven by playwright.

Tests call :func:`launch` (a context manager that skips the test, saying how to install a browser,
where none is found) and :func:`open_page`, which loads a file from disk and records every request
the page makes. The browser is the system's Chromium (Debian's ``chromium`` package, or the binary
named by ``JBP_CHROMIUM``), never one that playwright downloads; playwright starts it with a fresh
profile in a temporary folder and the flags below, so it neither phones home nor waits on a network
it cannot reach.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil

import numpy as np
import pytest

INSTALL = ("no headless browser for the page tests; install Chromium and its Python driver: "
           "apt-get install chromium && pip install playwright (the test extra has playwright; "
           "never `playwright install`), or point JBP_CHROMIUM at a Chromium binary")

FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio"]


def chromium_path():
  """The Chromium binary to drive, or None."""
  for p in (os.environ.get("JBP_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
            "/usr/bin/chromium"):
    if p and os.path.isfile(p) and os.access(p, os.X_OK):
      return p
  return None


@contextlib.contextmanager
def launch():
  """A running headless Chromium (a playwright ``Browser``); skips the test if there is none."""
  try:
    from playwright.sync_api import sync_playwright
  except ImportError:
    pytest.skip(INSTALL)
  path = chromium_path()
  if path is None:
    pytest.skip(INSTALL)
  with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=path, args=FLAGS, timeout=60_000)
    try:
      yield browser
    finally:
      browser.close()


def open_page(browser, path, *, color_scheme="light", width=1280, height=800, fragment=""):
  """Opens ``path`` (a file) in a new context; returns ``(page, requests)``, every URL the page asked for."""
  context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=color_scheme)
  requests = []
  context.on("request", lambda r: requests.append(r.url))
  page = context.new_page()
  errors = []
  page.on("pageerror", lambda e: errors.append(str(e)))
  page.goto(path.resolve().as_uri() + fragment)
  page.wait_for_load_state("load")
  assert errors == [], errors
  return page, requests


def screenshot_pixels(page):
  """A screenshot of the viewport as an ``(height, width, 3)`` array of floats in [0, 1]."""
  import matplotlib.image

  return matplotlib.image.imread(io.BytesIO(page.screenshot()), format="png")[..., :3]


def assert_not_blank(pixels, *, least=0.03):
  """At least ``least`` of the pixels differ from the most common colour, and the image has many colours."""
  flat = (pixels.reshape(-1, 3) * 255).round().astype(int)
  codes = flat[:, 0] * 65536 + flat[:, 1] * 256 + flat[:, 2]
  values, counts = np.unique(codes, return_counts=True)
  background = counts.max() / codes.size
  assert 1 - background >= least, f"only {1 - background:.1%} of the screenshot differs from its background"
  assert len(values) >= 20, f"the screenshot has only {len(values)} colours"


def horizontal_overflow(page):
  """How many pixels the page is wider than the viewport (0: no horizontal scroll)."""
  return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
