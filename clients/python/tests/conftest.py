"""Shared fixtures: the package on sys.path, the schema, a running server."""

import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)
REPO_ROOT = os.path.dirname(os.path.dirname(PKG_ROOT))
sys.path.insert(0, PKG_ROOT)
sys.path.insert(0, HERE)

import vss_sim  # noqa: E402

SCHEMA_PATH = os.path.join(REPO_ROOT, "docs", "protocol.schema.json")


@pytest.fixture(scope="session")
def schema():
    """docs/protocol.schema.json, decoded."""
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture
def server():
    """A fresh `vss-sim serve` on the default machine (no scenario), seed 0."""
    with vss_sim.serve(seed=0) as srv:
        yield srv


@pytest.fixture
def conn(server):
    """One connection to the `server` fixture."""
    c = server.connect()
    yield c
    c.close()
