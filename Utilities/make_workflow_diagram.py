"""Draw Resources/Screenshots/SlicerWorkflow.png: the RadiomicsResponse workflow in 3D Slicer, as a diagram.

The catalog shows this picture for the extension (EXTENSION_SCREENSHOTURLS). It is a labelled
diagram, not a screenshot: it shows the Slicer modules and what each step gives, and no path of the
computer that drew it. Rerun after changing a step: ``python Utilities/make_workflow_diagram.py``
(needs matplotlib).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "Resources" / "Screenshots" / "SlicerWorkflow.png"
#: (where in Slicer, what you do, what you get, colour)
STEPS = [
    ("Load the CTs", "Load a baseline and a\nfollow-up CT (Add Data,\nor the RadiomicsResponse\nsample in Sample Data)",
     "two CT volumes", "#546e7a"),
    ("Segment Editor", "Segment every lesion,\none segment per lesion,\nat both time points\n(segment name = lesion)",
     "two segmentations", "#6d4c41"),
    ("Response Signature", "Select volumes and\nsegmentations, a feature\npreset, press Apply",
     "lesion table, waterfall\nchart, RECIST 1.1 category,\nsignature score", "#1565c0"),
    ("Lesion Aggregate", "Check the lesion tables,\nchoose the method\n(e.g. volume-weighted),\npress Aggregate",
     "patient table\n(one row per patient)", "#2e7d32"),
    ("Nomogram Score", "Choose a nomogram model,\nfill the clinical values\n(or from the patient\ntable), Compute risk",
     "risk with 95 % CI,\npoints, risk gauge,\nHTML report", "#c62828"),
]


def box(ax, x, y, width, height, color, fill):
    ax.add_patch(FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0.012,rounding_size=0.02",
                                linewidth=2, edgecolor=color, facecolor=fill))


def main() -> None:
    fig = plt.figure(figsize=(16, 9), dpi=100)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    fig.patch.set_facecolor("white")
    ax.text(0.5, 0.94, "RadiomicsResponse in 3D Slicer: the workflow", ha="center", fontsize=26, weight="bold")
    ax.text(0.5, 0.885, "Diagram (not a screenshot) of the steps in the Slicer application and of what each step gives",
            ha="center", fontsize=14, color="#455a64")

    width, gap, left = 0.16, 0.0385, 0.02
    for index, (where, action, result, color) in enumerate(STEPS):
        x = left + index * (width + gap)
        box(ax, x, 0.40, width, 0.41, color, "#fafafa")
        ax.add_patch(FancyBboxPatch((x, 0.735), width, 0.075, boxstyle="round,pad=0.012,rounding_size=0.02",
                                    linewidth=0, facecolor=color))
        ax.text(x + width / 2, 0.772, f"{index + 1}. {where}", ha="center", va="center", fontsize=13.5,
                color="white", weight="bold")
        ax.text(x + width / 2, 0.625, action, ha="center", va="center", fontsize=12.5, color="#263238", linespacing=1.35)
        ax.text(x + width / 2, 0.455, result, ha="center", va="center", fontsize=12, color=color, weight="bold",
                linespacing=1.3)
        ax.plot([x + 0.015, x + width - 0.015], [0.515, 0.515], color="#cfd8dc", linewidth=1)
        if index < len(STEPS) - 1:
            ax.add_patch(FancyArrowPatch((x + width + 0.004, 0.6), (x + width + gap - 0.004, 0.6),
                                         arrowstyle="-|>", mutation_scale=22, linewidth=2.2, color="#37474f"))

    # Cohorts: the same stages over many patients, from the Lesion Aggregate module.
    cohort_x = left + 2 * (width + gap)
    box(ax, cohort_x, 0.07, 2 * width + gap, 0.25, "#2e7d32", "#f1f8e9")
    ax.text(cohort_x + width + gap / 2, 0.285, "Cohorts: Lesion Aggregate > Cohort batch run", ha="center", fontsize=14,
            weight="bold", color="#1b5e20")
    ax.text(cohort_x + width + gap / 2, 0.175,
            "a manifest CSV (patient, time point, image, segmentation)\n"
            "and an output folder you choose; one worker process\n"
            "(PythonSlicer) runs the command line's batch, with progress;\n"
            "Cancel keeps finished cases, Run again resumes\n"
            "gives lesions.csv, patients.csv, errors.csv", ha="center", va="center", fontsize=11.5,
            color="#263238", linespacing=1.45)
    ax.add_patch(FancyArrowPatch((cohort_x + 1.5 * width + gap, 0.32), (cohort_x + 1.5 * width + gap, 0.40),
                                 arrowstyle="-|>", mutation_scale=20, linewidth=2, color="#2e7d32"))

    notes_x = left
    box(ax, notes_x, 0.07, 2 * width + gap - 0.01, 0.25, "#90a4ae", "#eceff1")
    ax.text(notes_x + width, 0.285, "Good to know", ha="center", fontsize=14, weight="bold", color="#37474f")
    ax.text(notes_x + width, 0.175,
            "Python packages are installed on first use,\nafter asking (Slicer's numpy, SimpleITK, VTK\n"
            "are never replaced). Tables and charts are\nMRML nodes: save them with the scene or as CSV.\n"
            "Research use only - not a medical device.", ha="center", va="center", fontsize=11.5,
            color="#263238", linespacing=1.45)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=100, facecolor="white")
    print(f"wrote {OUT.relative_to(OUT.parents[2])}")


if __name__ == "__main__":
    main()
