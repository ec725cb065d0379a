"""Small helpers shared by the lblab notebooks: find the binary, run it, load its CSVs, and
draw means with their 95% confidence intervals.

Everything here is plain subprocess + pandas + matplotlib; read it if you want to do the same
in your own notebook or script.

Which lblab runs:
  1. the LBLAB environment variable, if set;
  2. else target/release/lblab in the repository this notebook sits in, if it was built;
  3. else `lblab` on PATH (e.g. after `cargo install --path .`).

Where results go: $LBLAB_NB_OUT if set (notebooks/check uses a scratch directory), else
results/notebooks/ under the repository root (not committed), else ./results/notebooks/.
"""

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import NullFormatter


def _repo_root():
    """The lblab repository this notebook is in (the directory holding Cargo.toml and
    scenarios/), or None when the notebook was copied elsewhere."""
    for d in [Path.cwd(), *Path.cwd().parents]:
        if (d / "Cargo.toml").is_file() and (d / "scenarios").is_dir():
            return d
    return None


REPO = _repo_root()


def _find_lblab():
    env = os.environ.get("LBLAB")
    if env:
        return env
    if REPO is not None and (REPO / "target" / "release" / "lblab").is_file():
        return str(REPO / "target" / "release" / "lblab")
    found = shutil.which("lblab")
    if found:
        return found
    raise FileNotFoundError(
        "lblab not found: set LBLAB=/path/to/lblab, build it with `cargo build --release` "
        "in the repository, or install it with `cargo install --path .`"
    )


LBLAB = _find_lblab()
OUT = Path(
    os.environ.get("LBLAB_NB_OUT")
    or ((REPO / "results" / "notebooks") if REPO is not None else Path("results/notebooks"))
)


def scenario(name):
    """The scenario to run: the repository's scenarios/NAME.toml if it is there, else the
    bundled scenario NAME (lblab has every shipped scenario built in)."""
    if REPO is not None and (REPO / "scenarios" / f"{name}.toml").is_file():
        return str(REPO / "scenarios" / f"{name}.toml")
    return name


def lblab(command, name, *args, out=None):
    """Run `lblab COMMAND SCENARIO ARGS.. --out DIR --quiet`, print the command, and return
    the results directory. Raises with lblab's own error message if it fails."""
    out = Path(out or OUT / name / command)
    argv = [LBLAB, command, scenario(name), *map(str, args), "--out", str(out), "--quiet"]
    print("$", shlex.join(["lblab", *argv[1:]]))
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"lblab exited with {done.returncode}:\n{done.stderr}")
    return out


def load(out, file="summary.csv"):
    """One CSV of a results directory as a DataFrame (empty cells read as NaN)."""
    return pd.read_csv(Path(out) / file)


def order(values):
    """Distinct values in the order they first appear (the order of the comparison)."""
    return list(pd.unique(pd.Series(values)))


def ci_table(df, metric, by="variant"):
    """mean, ci95_lo and ci95_hi of one metric, one row per `by` value, in the file's order.
    The interval may be asymmetric (times use a log-scale interval), so keep both ends."""
    agg = df[df.stat.isin(["mean", "ci95_lo", "ci95_hi"])]
    t = agg.pivot_table(index=by, columns="stat", values=metric, aggfunc="first", dropna=False)
    return t.reindex(order(df[by]))[["mean", "ci95_lo", "ci95_hi"]]


def errorbars(ax, table, label=None, horizontal=True, log=False, points=False, **kw):
    """The means with asymmetric 95% CI whiskers from ci95_lo/ci95_hi: bars from zero, or
    points (always on a log axis, where a bar's length means nothing; and where the axis
    does not start at zero)."""
    err = [table["mean"] - table["ci95_lo"], table["ci95_hi"] - table["mean"]]
    names = [str(i) for i in table.index]
    if log or points:
        xy = (table["mean"], names) if horizontal else (names, table["mean"])
        ax.errorbar(*xy, **{"xerr" if horizontal else "yerr": err}, fmt="o", capsize=4,
                    label=label, **kw)
        if log:
            (ax.set_xscale if horizontal else ax.set_yscale)("log")
            (ax.xaxis if horizontal else ax.yaxis).set_minor_formatter(NullFormatter())
    elif horizontal:
        ax.barh(names, table["mean"], xerr=err, capsize=4, label=label, **kw)
    else:
        ax.bar(names, table["mean"], yerr=err, capsize=4, label=label, **kw)
    if horizontal and not ax.yaxis_inverted():
        ax.invert_yaxis()  # first variant on top, as in lblab's table
    return ax


def seconds(text):
    """'250ms' -> 0.25, '2s' -> 2.0, '1m' -> 60.0 (the duration strings of scenario keys)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*(ns|us|µs|ms|s|m|h)\s*", str(text))
    if not m:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 250ms, 2s)")
    unit = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    return float(m.group(1)) * unit[m.group(2)]


plt.rcParams.update({"figure.figsize": (9, 4), "axes.grid": True, "grid.alpha": 0.3})
