"""synth: train generative models on tables and sample synthetic rows.

A Rust core (the same one the ``synth-train``, ``synth-sample`` and ``synth-eval`` command-line
tools run) behind a small API::

    import synth
    model = synth.TabularARGN(seed=7).fit(df)            # also Mixture, CTGAN, TVAE, GaussianCopula
    rows = model.sample(50_000, conditions={"income": ">50K"}, seed=1)
    model.save("runs/adult")                             # the command-line tools' checkpoint format
    model = synth.load("runs/adult")                     # also loads a checkpoint synth-train wrote
    report = synth.evaluate(real=df, synthetic=rows, holdout=test, target="income", html="report/")

Tables are pandas or polars DataFrames, pyarrow Tables, or anything with the Arrow PyCapsule
stream interface (``__arrow_c_stream__``); ``sample`` returns the kind of table the model was
fitted on (pandas for a loaded model, unless ``output=`` says otherwise).
"""

from __future__ import annotations

import io
import json
import numbers
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from . import _synth

__all__ = [
    "Synthesizer",
    "TabularARGN",
    "Mixture",
    "CTGAN",
    "TVAE",
    "GaussianCopula",
    "MST",
    "load",
    "evaluate",
    "__version__",
]

__version__: str = _synth.__version__

Table = Any
"""A pandas or polars DataFrame, a pyarrow Table, or any object with ``__arrow_c_stream__``."""

ProgressCallback = Callable[[int, int, Dict[str, float]], None]
"""Called after every epoch with (epoch, epochs, losses)."""

#: Settings given as keyword arguments that belong to the run rather than the model.
_RUN_SETTINGS = {
    "epochs": "train",
    "batch_size": "train",
    "backend": "train",
    "epsilon": "privacy",
    "delta": "privacy",
}

#: The label the saved config gives the training data of a model fitted on a DataFrame.
_DATA_LABEL = "(DataFrame given to fit)"


def _to_arrow(table: Table) -> Tuple[Any, str, Dict[str, Any]]:
    """The table as an Arrow stream source, the kind of table it was, and (for pandas) the
    columns' dtypes to give back on sampling."""
    module = type(table).__module__.split(".")[0]
    if module == "pandas":
        import pyarrow as pa

        if table.columns.duplicated().any():
            duplicated = sorted(set(table.columns[table.columns.duplicated()]))
            raise ValueError(f"the DataFrame has duplicated column names: {duplicated}")
        arrow = pa.Table.from_pandas(table, preserve_index=False)
        return _decode_dictionaries(arrow), "pandas", dict(table.dtypes)
    if module == "polars":
        import polars as pl

        categorical = [n for n, t in table.schema.items() if t in (pl.Categorical, pl.Enum)]
        if categorical:
            table = table.with_columns(pl.col(categorical).cast(pl.String))
        return table, "polars", {}
    if module == "pyarrow":
        return _decode_dictionaries(table), "arrow", {}
    if hasattr(table, "__arrow_c_stream__"):
        return table, "arrow", {}
    raise TypeError(
        "expected a pandas or polars DataFrame, a pyarrow Table, or an object with "
        f"__arrow_c_stream__; got {type(table).__module__}.{type(table).__qualname__}"
    )


def _decode_dictionaries(table: Any) -> Any:
    """Categorical (dictionary-encoded) columns as their values: synth models categories
    itself."""
    import pyarrow as pa

    if not isinstance(table, pa.Table):
        return table
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            decoded = table.column(index).cast(field.type.value_type)
            table = table.set_column(index, field.name, decoded)
    return table


def _from_arrow(stream: Any, kind: str, dtypes: Mapping[str, Any]) -> Table:
    """A table read from the native module, as `kind` (pandas, polars or arrow)."""
    if kind not in ("pandas", "polars", "arrow"):
        raise ValueError(f"output={kind!r}: expected 'pandas', 'polars' or 'arrow'")
    if kind == "polars":
        import polars as pl

        try:
            return pl.DataFrame(stream)  # the stream protocol directly: no pyarrow needed
        except TypeError:  # a polars too old to read the protocol
            import pyarrow as pa

            return pl.from_arrow(pa.table(stream))
    import pyarrow as pa

    table = pa.table(stream)
    if kind == "arrow":
        return table
    frame = table.to_pandas()
    for name, dtype in dtypes.items():
        if name not in frame.columns or frame[name].dtype == dtype:
            continue
        try:
            if frame[name].isna().any() and str(dtype).startswith(("int", "uint", "bool")):
                continue  # NaN has no integer or boolean form in plain numpy dtypes
            frame[name] = frame[name].astype(dtype)
        except (TypeError, ValueError):
            pass  # keep the column as Arrow gave it
    return frame


def _terminal_progress(total_hint: Optional[int] = None) -> ProgressCallback:
    """A progress bar: tqdm's (in a terminal and in Jupyter) where tqdm is installed, else a
    line per epoch on stderr."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    state: Dict[str, Any] = {}

    def report(epoch: int, epochs: int, losses: Dict[str, float]) -> None:
        shown = " ".join(f"{k}={v:.4f}" for k, v in losses.items())
        if tqdm is None:
            print(f"epoch {epoch}/{epochs} {shown}", file=sys.stderr, flush=True)
            return
        if "bar" not in state:
            state["bar"] = tqdm(total=epochs, initial=epoch - 1, unit="epoch", desc="training")
        bar = state["bar"]
        bar.set_postfix_str(shown, refresh=False)
        bar.update(1)
        if epoch >= epochs:
            bar.close()

    report.close = lambda: state["bar"].close() if "bar" in state else None  # type: ignore[attr-defined]
    return report


class Synthesizer:
    """A tabular model: fit it on a table, then sample rows, save and load it.

    Keyword settings are the model's own (``[model]`` of its shipped config), except
    ``epochs``, ``batch_size`` and ``backend`` (``[train]``); ``data=``, ``transformer=``,
    ``train=`` and ``eval=`` take whole config sections as dicts (``data={"discrete":
    ["zip"], "pii": ["email"]}``); ``constraints=`` takes the ``[[constraints]]`` entries as a
    list of dicts (``[{"kind": "inequality", "low": "checkin", "high": "checkout"}]``), which
    every sampled row obeys. ``epsilon`` and ``delta`` (and ``privacy=`` as a dict) set a
    private model's ``[privacy]`` budget (MST; TVAE trains with DP-SGD then, on every
    column's domain declared public). Defaults are the shipped ``configs/<kind>.toml``, and
    for a private TVAE ``configs/tvae-dp.toml`` (a network sized for DP-SGD, 300 epochs).
    """

    kind: str = ""

    def __init__(
        self,
        *,
        seed: int = 7,
        verbose: bool = True,
        progress: Optional[ProgressCallback] = None,
        data: Optional[Mapping[str, Any]] = None,
        transformer: Optional[Mapping[str, Any]] = None,
        train: Optional[Mapping[str, Any]] = None,
        eval: Optional[Mapping[str, Any]] = None,
        constraints: Optional[Sequence[Mapping[str, Any]]] = None,
        privacy: Optional[Mapping[str, Any]] = None,
        **settings: Any,
    ) -> None:
        if not self.kind:
            raise TypeError("use a model class (TabularARGN, Mixture, CTGAN, TVAE, GaussianCopula, MST) or synth.load")
        private = privacy is not None or any(_RUN_SETTINGS.get(key) == "privacy" for key in settings)
        config = json.loads(_synth.shipped_config(self.kind, private))
        config["seed"] = seed
        for section, values in (("data", data), ("transformer", transformer), ("train", train)):
            config[section].update(values or {})
        if eval is not None:
            config["eval"] = dict(eval)
        if constraints:
            config["constraints"] = [dict(c) for c in constraints]
        if privacy is not None:
            config.setdefault("privacy", {}).update(privacy)
        for key, value in settings.items():
            section = _RUN_SETTINGS.get(key, "model")
            if section == "privacy":
                if self.kind not in ("mst", "tvae"):
                    raise ValueError(f"{key}= sets a differentially private model's budget; {self.kind} has none (use MST, or TVAE for DP-SGD)")
                config.setdefault("privacy", {})
            config[section][key] = value
        config["data"]["path"] = _DATA_LABEL
        self._config: Dict[str, Any] = config
        self.verbose = verbose
        self.progress = progress
        self._path: Optional[Path] = None
        self._owned: Optional[tempfile.TemporaryDirectory] = None
        self._output = "pandas"
        self._backend: Optional[str] = None
        self._dtypes: Dict[str, Any] = {}
        self.report: Dict[str, Any] = {}

    # -- training -------------------------------------------------------------------------

    def fit(self, data: Table, *, out_dir: Union[str, os.PathLike, None] = None, resume: bool = False, overwrite: bool = False) -> "Synthesizer":
        """Trains on ``data`` (the GIL is released meanwhile). Checkpoints go to ``out_dir``
        (a run folder, as synth-train writes) or to a temporary folder kept with the model.
        Ctrl-C stops at the end of the epoch in progress, with its checkpoint, and raises
        KeyboardInterrupt; ``resume=True`` continues such a run (given the same rows)."""
        arrow, output, dtypes = _to_arrow(data)
        owned = None
        if out_dir is None:
            if resume:
                raise ValueError("resume=True continues a run in out_dir; give the out_dir of the run to continue")
            owned = tempfile.TemporaryDirectory(prefix="synth-run-")
            run = Path(owned.name)
        else:
            run = Path(out_dir)
        config = dict(self._config, train=dict(self._config["train"], out_dir=str(run)))
        callback = self.progress
        if callback is None and self.verbose:
            callback = _terminal_progress()
        try:
            report = _synth.fit(arrow, json.dumps(config), resume=resume, overwrite=overwrite, progress=callback)
        finally:
            close = getattr(callback, "close", None)
            if close is not None:
                close()
        # only a finished fit replaces what the model had (a failed one leaves it as it was)
        self.report, self._config, self._path = report, config, run
        self._owned, self._output, self._dtypes = owned, output, dtypes
        self._backend = _synth.checkpoint_info(str(run))["backend"]
        return self

    # -- sampling -------------------------------------------------------------------------

    def sample(
        self,
        n: int,
        *,
        conditions: Optional[Mapping[str, Any]] = None,
        seed: Optional[int] = None,
        shard: Optional[Tuple[int, int]] = None,
        batch_size: int = 10_000,
        output: Optional[str] = None,
    ) -> Table:
        """``n`` synthetic rows (with ``shard=(i, k)``, part i of k of them, seeded from
        ``seed`` and i: the k parts together are the same rows whichever process or machine
        samples each). ``conditions`` fix columns: ``{"income": ">50K"}``, a numeric range
        ``{"age": "30..40"}``, or ``""`` for missing. ``output`` is 'pandas', 'polars' or
        'arrow' (default: the kind of table the model was fitted on). Rows are sampled on the
        backend the model was trained on (its checkpoint records it), so the device is not
        probed again."""
        path = self._checkpoint_path()
        pairs = [(str(k), "" if v is None else str(v)) for k, v in (conditions or {}).items()]
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise ValueError(f"n = {n!r}: the number of rows must be a positive integer")
        table = _synth.sample(
            str(path), n, seed=seed, conditions=pairs, batch_size=batch_size, shard=shard,
            backend_name=self._backend,
        )
        return _from_arrow(table, output or self._output, self._dtypes)

    # -- persistence ----------------------------------------------------------------------

    def save(self, path: Union[str, os.PathLike], *, overwrite: bool = False) -> Path:
        """Copies the run folder (checkpoints, metrics.jsonl, metadata.toml) to ``path``: a
        folder synth-sample, synth-eval and ``synth.load`` read."""
        source = self._checkpoint_path()
        target = Path(path)
        if target.exists() and any(target.iterdir()):
            if not overwrite:
                raise FileExistsError(f"{target} is not empty; choose another folder or pass overwrite=True")
            shutil.rmtree(target)
        if source.resolve() == target.resolve():
            return target
        shutil.copytree(source, target, dirs_exist_ok=True)
        return target

    @property
    def path(self) -> Path:
        """The run (or checkpoint) folder the model samples from."""
        return self._checkpoint_path()

    def _checkpoint_path(self) -> Path:
        if self._path is None:
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit(table) first, or synth.load(path)")
        return self._path

    def __getstate__(self) -> Dict[str, Any]:
        """Pickles as the checkpoint's files (a tar archive in memory), so a model can be
        sent to worker processes."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("_owned", "_path", "progress")}
        state["progress"] = None
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            archive.add(str(self._checkpoint_path()), arcname="run")
        state["_archive"] = buffer.getvalue()
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        archive = state.pop("_archive")
        self.__dict__.update(state)
        self._owned = tempfile.TemporaryDirectory(prefix="synth-run-")
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r") as tar:
            _extract(tar, self._owned.name)
        self._path = Path(self._owned.name) / "run"

    def __repr__(self) -> str:
        where = f" at {self._path}" if self._path is not None else " (not fitted)"
        return f"{type(self).__name__}(seed={self._config['seed']}){where}"


def _extract(archive: tarfile.TarFile, folder: str) -> None:
    """Extracts a pickled checkpoint's files, refusing links and paths outside `folder`."""
    root = os.path.realpath(folder)
    for member in archive.getmembers():
        target = os.path.realpath(os.path.join(root, member.name))
        if not (member.isfile() or member.isdir()) or not target.startswith(root + os.sep):
            raise ValueError(f"a pickled synth model holds an unexpected entry: {member.name}")
    if hasattr(tarfile, "data_filter"):  # Python 3.12, and security releases of 3.9 to 3.11
        archive.extractall(root, filter="data")
    else:
        archive.extractall(root)


class TabularARGN(Synthesizer):
    """TabularARGN: an any-order autoregressive network over column tokens (the state of the
    art on quality; exact conditions on any columns)."""

    kind = "argn"


class Mixture(Synthesizer):
    """A latent-class mixture fitted by expectation-maximisation: near the state of the art
    in seconds, exact conditions on any columns."""

    kind = "mixture"


class CTGAN(Synthesizer):
    """CTGAN: a conditional tabular GAN (Xu et al., 2019)."""

    kind = "ctgan"


class TVAE(Synthesizer):
    """TVAE: a tabular variational autoencoder (Xu et al., 2019)."""

    kind = "tvae"


class GaussianCopula(Synthesizer):
    """A Gaussian copula over the columns' marginals: a statistical baseline, fitted in
    closed form."""

    kind = "gaussiancopula"


class MST(Synthesizer):
    """MST (McKenna et al., 2021): differentially private rows from noisy marginals; the
    budget is ``epsilon=`` (and ``delta=``), the guarantee of the model and every sample."""

    kind = "mst"


_KINDS = {cls.kind: cls for cls in (TabularARGN, Mixture, CTGAN, TVAE, GaussianCopula, MST)}


def load(path: Union[str, os.PathLike], *, output: str = "pandas") -> Synthesizer:
    """A model from a run folder, ``ckpt`` folder or checkpoint folder, as ``save`` or
    synth-train wrote it; ``sample`` returns ``output`` tables ('pandas', 'polars', 'arrow')."""
    info = _synth.checkpoint_info(str(path))
    cls = _KINDS.get(info["kind"])
    if cls is None:
        raise ValueError(f"{path} holds a {info['kind']} model; the Python package samples tables (use synth-sample for images)")
    model = cls.__new__(cls)
    Synthesizer.__init__(model, seed=info["seed"], verbose=False)
    model._path = Path(path)
    model._backend = info["backend"]
    model._output = output
    return model


def evaluate(
    real: Table,
    synthetic: Table,
    *,
    holdout: Optional[Table] = None,
    target: Optional[str] = None,
    checkpoint: Union[str, os.PathLike, None] = None,
    ignore: Sequence[str] = (),
    html: Union[str, os.PathLike, None] = None,
    seed: int = 0,
) -> Dict[str, Any]:
    """Judges ``synthetic`` against ``real`` as synth-eval does: returns report.json's content
    (``report["quality"]["overall"]``, utility with ``holdout`` and ``target``, privacy) and
    writes report.json and index.html into the folder ``html`` when given."""
    tables = [_to_arrow(t)[0] if t is not None else None for t in (real, synthetic, holdout)]
    text = _synth.evaluate(
        tables[0], tables[1], holdout=tables[2], target=target,
        checkpoint=None if checkpoint is None else str(checkpoint),
        ignore=list(ignore), html_dir=None if html is None else str(html), seed=seed,
    )
    return json.loads(text)
