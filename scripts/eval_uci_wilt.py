"""Score the UCI Wilt segments with the discolored-tree detector's indices and rules.

Usage: python scripts/eval_uci_wilt.py [DATA_DIR]   (default ../shared/data/uci_wilt)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from gis.checks.discolored.accuracy import evaluate_segments
from gis.io import read_table

data = Path(
    sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parents[2] / "shared/data/uci_wilt"
)
result = evaluate_segments(read_table(data / "training.csv"), read_table(data / "testing.csv"))
sys.stdout.write(json.dumps(result, indent=2) + "\n")
