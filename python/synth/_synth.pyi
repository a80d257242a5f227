"""Type stubs of the native module `synth._synth` (python/src/lib.rs). Use the `synth`
package's classes instead of calling it directly."""

from os import PathLike
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

__version__: str

class ArrowTable:
    """A table on its way to Python, read once through the Arrow PyCapsule stream protocol."""

    def __arrow_c_stream__(self, requested_schema: Optional[object] = None) -> object: ...

def shipped_config(kind: str) -> str:
    """The shipped config (configs/<kind>.toml) of a model kind, as JSON."""

def fit(
    table: Any,
    config_json: str,
    resume: bool = False,
    overwrite: bool = False,
    progress: Optional[Callable[[int, int, Dict[str, float]], None]] = None,
) -> Dict[str, Any]:
    """Trains with the GIL released; returns the training report."""

def checkpoint_info(path: Union[str, PathLike[str]]) -> Dict[str, Any]:
    """A checkpoint's dir, kind, seed, epoch, backend and synth_version, from its manifest."""

def sample(
    path: Union[str, PathLike[str]],
    rows: int,
    seed: Optional[int] = None,
    conditions: List[Tuple[str, str]] = ...,
    batch_size: int = 10000,
    shard: Optional[Tuple[int, int]] = None,
    backend_name: Optional[str] = None,
) -> ArrowTable:
    """Samples rows (a shard of them) with the GIL released."""

def evaluate(
    real: Any,
    synthetic: Any,
    holdout: Optional[Any] = None,
    target: Optional[str] = None,
    checkpoint: Optional[Union[str, PathLike[str]]] = None,
    ignore: List[str] = ...,
    html_dir: Optional[Union[str, PathLike[str]]] = None,
    seed: int = 0,
) -> str:
    """report.json's text; writes report.json and index.html into html_dir when given."""

def roundtrip(table: Any) -> ArrowTable:
    """Imports a table into Rust and hands it back (tests and timings of the bridge)."""
