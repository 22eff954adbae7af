import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def release_binary(name: str) -> str:
    """A binary from the release build that scripts/test makes before running this suite."""
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    path = os.path.join(target, "release", name)
    if not os.path.exists(path):
        raise RuntimeError(f"{path} is missing: run scripts/test (it builds the workspace first)")
    return path
