"""``experiments/CALIBRATION.md`` and its figures, from a fit made by ``calibrate.py``."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def write_report(*, problem, chain, post, entries, at_best, draws, loso, loso_chains,
                 total_minutes, args, out: Path, report: Path) -> None:
    figures = _figures(problem, chain, post, entries, at_best, draws, out)
    banded = [(i, t) for i, (_, t) in enumerate(entries) if t.has_band]
    passed = sum(t.passes(at_best[i], np.nanpercentile(draws[:, i], 2.5),
                          np.nanpercentile(draws[:, i], 97.5)) for i, t in banded)
    tau = post.autocorr
    lines = [
        "# Calibration", "",
        "Written by `experiments/calibrate.py` (re-run it to refit: it rewrites the `# fitted` lines of",
        "`scenarios/_defaults.toml`, the posterior draws `scenarios/_posterior.csv`, this file and the",
        "figures in `experiments/calibration/`). Scenario files are never changed; no parameter is set",
        "per scenario, arm or study.", "",
        "## Method", "",
        "- **Data**: every calibration target of `RECIPROCITY.md`, both sets, as stored in the scenario",
        "  files' `[[calibration.targets]]`: Strohmetz et al. 2002 (`mint_study`), Regan 1971",
        "  (`regan_1971`), Falk 2007 (`falk_2007`), Gneezy & List 2006 (`gneezy_list_library`,",
        "  `gneezy_list_fundraising`), Cialdini et al. 1975 exp. 1 (`door_in_the_face`), Newman & Shen",
        "  2012 (`newman_shen_2012`). Each file describes its study's context (prices, base rates, what is",
        "  given, when and how) with where the values come from; values the papers do not give are chosen",
        "  there, with the reason, and fixed.",
        f"- **Parameters**: {len(problem.parameters)} global rule parameters (below); all others keep",
        "  their judgment values in `_defaults.toml`, each with its reason.",
        "- **Priors**: uniform within the bounds below (on the log scale where marked), wide enough to",
        "  contain every value the rules' sources make plausible.",
        "- **Likelihood**: each target's statistic is the model's mean over fixed seeds (common random",
        "  numbers, so the likelihood is a deterministic function of the parameters). A target with a",
        "  published figure and an uncertainty is Gaussian around the figure: the uncertainty is the",
        "  target's `sd` where the paper's sample size sets it (Gneezy & List; Newman & Shen), otherwise a",
        "  quarter of its two-sided band (the band read as +/- 2 sd). One-sided bands (a ratio at least",
        "  1.7, four cards above one, a lift at least twice another) are soft constraints,",
        "  `log Phi((statistic - bound) / sd)`.",
        "- **Sampler**: emcee 3.1.6, an affine-invariant ensemble sampler: no gradients, no tuning",
        "  beyond the number of walkers, and a vectorised log-probability, so all walkers of an",
        "  iteration run as one batch of stacked engines (a whole ensemble costs little more than one",
        "  parameter set). Moves: differential evolution 80%, snooker 20% (ter Braak & Vrugt 2008).",
        "  Chosen over pyabc's ABC-SMC, which runs particle by particle with an acceptance schedule,",
        "  and sbi, which needs PyTorch.",
        f"- **Runs**: {args['walkers']} walkers started in a ball (10% of each prior's range) around",
        "  `START` in `calibrate.py` (where they begin, not a prior),",
        f"  {chain.iterations} iterations; fit populations of {_caps()} buyers per run and",
        f"  {len(problem.seeds)} seeds per target statistic; first half discarded as burn-in, thinned by",
        "  half the largest autocorrelation time.",
        "- **Point estimate**: the posterior draw with the highest density; it is the `# fitted` value",
        "  in `_defaults.toml`.", "",
        "## Diagnostics", "",
        f"- {_time_taken(chain, loso_chains, total_minutes)}",
        f"- Acceptance fraction {post.acceptance:.2f}; integrated autocorrelation time "
        f"{np.min(tau):.1f} to {np.max(tau):.1f} iterations; effective samples "
        f"{np.min(post.effective_samples()):.0f} to {np.max(post.effective_samples()):.0f}; the "
        f"kept chain covers {(post.iterations - post.burn_in) / np.max(tau):.0f} autocorrelation "
        "times of the slowest parameter (emcee advises 50 for a precise autocorrelation time; fewer "
        "leave the tails of the intervals less certain).",
        f"- {len(post.draws)} posterior draws shipped in `scenarios/_posterior.csv`.", "",
        "## Result", "",
        f"At the point estimate **{passed} of {len(banded)} targets** are within their bands "
        f"(full populations, 3 seeds; `recip validate` repeats this with 30). "
        f"{len(entries) - len(banded)} more figures have no tolerance in the domain reference: "
        "they are fitted (with their sd) and shown, not counted.", "",
        "| parameter | note | prior | point estimate | posterior median [95% interval] | autocorrelation |",
        "|---|---|---|---|---|---|",
    ]
    best, median, interval = post.best(), post.median(), post.interval()
    for i, p in enumerate(problem.parameters):
        prior = f"{'log-' if p.scale == 'log' else ''}uniform [{p.low:.3g}, {p.high:.3g}]"
        low, high = interval[p.key]
        lines.append(f"| `{p.key}` | {p.note} | {prior} | {best[p.key]:.4g} | {median[p.key]:.4g} "
                     f"[{low:.3g}, {high:.3g}] | {tau[i]:.1f} |")
    lines += ["", "## Fit: every target, model vs paper", "",
              "Model at the point estimate (3 seeds, full populations) and the 95% posterior-predictive "
              "interval over 40 posterior draws.", "",
              "| study | condition | paper | band | model | 95% interval | within band |",
              "|---|---|---|---|---|---|---|"]
    for i, (_, t) in enumerate(entries):
        low, high = np.nanpercentile(draws[:, i], [2.5, 97.5])
        ok = t.passes(at_best[i], low, high)
        lines.append(f"| {t.study} | {t.condition} | {t.paper_text or _num(t.paper)} | "
                     f"{t.tolerance} | {at_best[i]:.3f} | [{low:.3f}, {high:.3f}] | "
                     f"{_verdict(ok, t.has_band)} |")
    lines += ["", "## Leave one study out", ""]
    if loso:
        checked = [row for row in loso if row["checked"]]
        inside = sum(row["inside"] for row in checked)
        studies = sorted({row["study"] for row in loso})
        lines += [f"Each study refitted without, then predicted from that posterior (median and 95% "
                  f"interval over 40 draws, 3 seeds each): **{inside} of {len(checked)} targets** "
                  f"of {len(studies)} studies predicted within their bands (and "
                  f"{len(loso) - len(checked)} figures without a band shown). This is the number "
                  "that says whether to trust the model on a study it was not fitted to.", "",
                  "| left out | target | paper | band | prediction [95% interval] | within band |",
                  "|---|---|---|---|---|---|"]
        for row in loso:
            lines.append(f"| `{row['study']}` | {row['target']}: {row['condition']} | "
                         f"{row['paper']} | {row['band']} | {row['prediction']:.3f} "
                         f"[{row['low']:.3f}, {row['high']:.3f}] | "
                         f"{_verdict(row['inside'], row['checked'])} |")
    else:
        lines.append("Not run in this call (`--no-loso`).")
    lines += ["", "## Figures", ""] + [f"![{name}](calibration/{path.name})" for name, path in figures]
    report.write_text("\n".join(lines) + "\n")


def _caps() -> str:
    from calibrate import FIT_BUYERS, FIT_CAP

    extra = ", ".join(f"{n:,} for `{k}`" for k, n in FIT_BUYERS.items())
    return f"at most {FIT_CAP:,} ({extra})"


def _num(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:g}"


def _figures(problem, chain, post, entries, at_best, draws, out: Path) -> list[tuple[str, Path]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    k = len(problem.parameters)
    cols = 5
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows))
    for ax, (i, p) in zip(axes.flat, enumerate(problem.parameters), strict=False):
        ax.hist(post.draws[:, i], bins=30, color="#3a7")
        ax.set_title(p.key.removeprefix("rules."), fontsize=9)
        ax.set_xlabel("value")
        ax.set_ylabel("draws")
    for ax in list(axes.flat)[k:]:
        ax.axis("off")
    fig.suptitle("Posterior marginals")
    fig.tight_layout()
    path = out / "posterior_marginals.png"
    fig.savefig(path, dpi=200)
    plt.close(fig)
    figures.append(("posterior marginals", path))

    fig, ax = plt.subplots(figsize=(8, 3.5))
    lp = chain.log_prob
    ax.plot(np.arange(len(lp)), lp, color="#777", lw=0.3, alpha=0.6)
    ax.axvline(post.burn_in, color="k", ls="--", label="end of burn-in")
    ax.set_xlabel("iteration")
    ax.set_ylabel("log posterior density (each walker)")
    finite = lp[np.isfinite(lp)]
    if finite.size:
        ax.set_ylim(np.percentile(finite, 5) - 5, finite.max() + 2)
    ax.legend()
    fig.tight_layout()
    path = out / "trace.png"
    fig.savefig(path, dpi=200)
    plt.close(fig)
    figures.append(("trace", path))

    scale = [t.paper if t.paper else 1.0 for _, t in entries]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(entries) + 1))
    y = np.arange(len(entries))[::-1]
    for i, (_, t) in enumerate(entries):
        low, high = np.nanpercentile(draws[:, i], [2.5, 97.5])
        s = abs(scale[i]) or 1.0
        ax.plot([low / s, high / s], [y[i], y[i]], color="#3a7", lw=3,
                label="95% posterior-predictive interval" if i == 0 else None)
        ax.plot(at_best[i] / s, y[i], "o", color="#174", label="model (point estimate)" if i == 0 else None)
        if t.paper:
            ax.plot(1.0, y[i], "|", color="k", ms=12, label="paper" if i == 0 else None)
    ax.set_yticks(y, [f"{t.study[:28]}: {t.condition[:40]}" for _, t in entries], fontsize=7)
    ax.set_xlabel("statistic / paper's figure (1 = the paper)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = out / "fit_vs_paper.png"
    fig.savefig(path, dpi=200)
    plt.close(fig)
    figures.append(("fit vs paper", path))
    return figures


def _verdict(inside: bool, checked: bool) -> str:
    if not checked:
        return "no band (fitted)"
    return "yes" if inside else "**no**"


def _time_taken(chain, loso_chains, total_minutes: float) -> str:
    """Sampling time as the chains recorded it (summed over the runs that sampled them, so a
    resumed fit is counted whole), and this run's wall time."""
    resumed = [c for c in [chain, *loso_chains] if c.sessions > 1]
    text = (f"Sampling time (2 cores): fit {chain.seconds / 60:.0f} min"
            + (f", the {len(loso_chains)} leave-one-study-out refits "
               f"{sum(c.seconds for c in loso_chains) / 60:.0f} min" if loso_chains else "")
            + f"; this run of `calibrate.py`, checks included, {total_minutes:.0f} min.")
    if resumed:
        text += (f" Resumed from a checkpoint (sampled over more than one run, times summed): "
                 f"{len(resumed)} of the {1 + len(loso_chains)} chains.")
    return text
