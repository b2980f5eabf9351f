"""Where the repository and the shared specification data are (the data is never copied in)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
DEFAULT_REFERENCE_DIR = SHARED_DATA_DIR / "reference"
SAMPLE_SITE = SHARED_DATA_DIR / "inputs/nutrients/BnW_small_under_1_hectare_geojson/BnW_small_under_1_hectare.geojson"
