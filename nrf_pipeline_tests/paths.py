"""Where the shared specification data lives: beside the checkout, never copied into it."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
REFERENCE_DIR = SHARED_DATA / "reference"
INPUTS_DIR = SHARED_DATA / "inputs"
EXPECTED_DIR = SHARED_DATA / "expected"
