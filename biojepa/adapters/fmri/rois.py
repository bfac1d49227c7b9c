"""ROI tables: the ordered ROI names of an atlas and the hash that pins their order.

An fMRI model's signal contract lists its ROIs by name, in token order (``signal.channels``), names the atlas
(``signal.atlas``) and pins the order with :func:`roi_order_sha256` (``signal.roi_order_sha256``).
``biojepa.encode()`` and the data sources compare an input's ROI names with the contract: a permuted order is
re-ordered by name, a missing or extra ROI raises, and a different atlas is caught by the hash even when the
ROI count matches.

Built-in tables (names only; no atlas image is shipped):

==============  =====  ===========================================================================
name            ROIs   order
==============  =====  ===========================================================================
``aal116``      116    AAL (Tzourio-Mazoyer et al. 2002), label order 1..116 (as in DPARSF / PCP)
``roi<N>``      N      generic names ``ROI001`` ... (any N): a stated count, no anatomy
==============  =====  ===========================================================================
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from biojepa.errors import ConfigError, ContractError
from biojepa.models.spec import channel_order_sha256

__all__ = ["AAL116", "atlas_rois", "generic_roi_names", "match_rois", "roi_order_sha256"]

#: AAL-116 region labels in label order 1..116 (the DPARSF/PCP ``rois_aal`` column order).
AAL116: tuple[str, ...] = (
    "Precentral_L", "Precentral_R", "Frontal_Sup_L", "Frontal_Sup_R", "Frontal_Sup_Orb_L",
    "Frontal_Sup_Orb_R", "Frontal_Mid_L", "Frontal_Mid_R", "Frontal_Mid_Orb_L", "Frontal_Mid_Orb_R",
    "Frontal_Inf_Oper_L", "Frontal_Inf_Oper_R", "Frontal_Inf_Tri_L", "Frontal_Inf_Tri_R",
    "Frontal_Inf_Orb_L", "Frontal_Inf_Orb_R", "Rolandic_Oper_L", "Rolandic_Oper_R", "Supp_Motor_Area_L",
    "Supp_Motor_Area_R", "Olfactory_L", "Olfactory_R", "Frontal_Sup_Medial_L", "Frontal_Sup_Medial_R",
    "Frontal_Med_Orb_L", "Frontal_Med_Orb_R", "Rectus_L", "Rectus_R", "Insula_L", "Insula_R",
    "Cingulum_Ant_L", "Cingulum_Ant_R", "Cingulum_Mid_L", "Cingulum_Mid_R", "Cingulum_Post_L",
    "Cingulum_Post_R", "Hippocampus_L", "Hippocampus_R", "ParaHippocampal_L", "ParaHippocampal_R",
    "Amygdala_L", "Amygdala_R", "Calcarine_L", "Calcarine_R", "Cuneus_L", "Cuneus_R", "Lingual_L",
    "Lingual_R", "Occipital_Sup_L", "Occipital_Sup_R", "Occipital_Mid_L", "Occipital_Mid_R",
    "Occipital_Inf_L", "Occipital_Inf_R", "Fusiform_L", "Fusiform_R", "Postcentral_L", "Postcentral_R",
    "Parietal_Sup_L", "Parietal_Sup_R", "Parietal_Inf_L", "Parietal_Inf_R", "SupraMarginal_L",
    "SupraMarginal_R", "Angular_L", "Angular_R", "Precuneus_L", "Precuneus_R", "Paracentral_Lobule_L",
    "Paracentral_Lobule_R", "Caudate_L", "Caudate_R", "Putamen_L", "Putamen_R", "Pallidum_L", "Pallidum_R",
    "Thalamus_L", "Thalamus_R", "Heschl_L", "Heschl_R", "Temporal_Sup_L", "Temporal_Sup_R",
    "Temporal_Pole_Sup_L", "Temporal_Pole_Sup_R", "Temporal_Mid_L", "Temporal_Mid_R", "Temporal_Pole_Mid_L",
    "Temporal_Pole_Mid_R", "Temporal_Inf_L", "Temporal_Inf_R", "Cerebelum_Crus1_L", "Cerebelum_Crus1_R",
    "Cerebelum_Crus2_L", "Cerebelum_Crus2_R", "Cerebelum_3_L", "Cerebelum_3_R", "Cerebelum_4_5_L",
    "Cerebelum_4_5_R", "Cerebelum_6_L", "Cerebelum_6_R", "Cerebelum_7b_L", "Cerebelum_7b_R", "Cerebelum_8_L",
    "Cerebelum_8_R", "Cerebelum_9_L", "Cerebelum_9_R", "Cerebelum_10_L", "Cerebelum_10_R", "Vermis_1_2",
    "Vermis_3", "Vermis_4_5", "Vermis_6", "Vermis_7", "Vermis_8", "Vermis_9", "Vermis_10",
)

_GENERIC = re.compile(r"^roi(\d+)$")


def generic_roi_names(n: int) -> tuple[str, ...]:
    """``ROI001`` ... ``ROI<n>`` (at least three digits, more for ``n >= 1000``).

    Raises:
        ConfigError: ``n < 1``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the number of ROIs must be a positive integer, found {n!r}")
    width = max(3, len(str(n)))
    return tuple(f"ROI{i:0{width}d}" for i in range(1, n + 1))


def atlas_rois(atlas: str) -> tuple[str, ...]:
    """The ROI names of a built-in table: ``"aal116"`` or ``"roi<N>"`` (generic names).

    Raises:
        ConfigError: an unknown table (the message lists the built-in ones).
    """
    key = str(atlas).strip().lower()
    if key == "aal116":
        return AAL116
    m = _GENERIC.match(key)
    if m:
        return generic_roi_names(int(m.group(1)))
    raise ConfigError(
        f"unknown built-in ROI table {atlas!r}; built-in tables: 'aal116', 'roi<N>' (generic names ROI001..); "
        "for another atlas give the ROI names explicitly (model.overrides.signal.channels=[...])"
    )


def roi_order_sha256(names: Sequence[str]) -> str:
    """sha256 of the ROI names in order (UTF-8, one per line): pins an atlas and its ROI order.

    Example:
        >>> roi_order_sha256(["A", "B"]) == roi_order_sha256(["B", "A"])
        False
    """
    if isinstance(names, str):
        raise ConfigError(f"ROI names must be a list of names, found the string {names!r}")
    return channel_order_sha256(names)


def match_rois(given: Sequence[str], expected: Sequence[str], *, what: str = "input") -> list[int]:
    """Row indices into ``given`` that put its ROIs in the ``expected`` order (exact, case-sensitive names).

    Args:
        given: the input's ROI names, in row order.
        expected: the model's ROI names, in token order.
        what: how the input is named in messages.

    Returns:
        ``idx`` such that ``x[idx]`` has the model's ROI order.

    Raises:
        ContractError: duplicated names, or ROIs missing from / extra in the input (names listed).
    """
    given = [str(g) for g in given]
    if len(set(given)) != len(given):
        dup = sorted({g for g in given if given.count(g) > 1})
        raise ContractError(f"{what}: duplicated ROI names {dup[:10]}; ROI names must be unique")
    pos = {g: i for i, g in enumerate(given)}
    missing = [e for e in expected if e not in pos]
    extra = [g for g in given if g not in set(expected)]
    if missing or extra:
        raise ContractError(
            f"{what}: its {len(given)} ROIs do not match the model's {len(expected)} ROIs (ROI-order hash "
            f"{roi_order_sha256(expected)[:12]}): missing {missing[:8]}{' ...' if len(missing) > 8 else ''}, "
            f"extra {extra[:8]}{' ...' if len(extra) > 8 else ''}. Extract the ROI time series with the model's "
            "atlas (`biojepa models info <name>` lists its ROIs) and name the rows with channels=[...]"
        )
    return [pos[e] for e in expected]
