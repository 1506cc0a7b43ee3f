"""The supported growths (`zoo grow`), as data: which rule grows which model into which, their
chains, the default noise, and the error the rules raise. The growing itself is zoo.growth's, the
rules are beside their architectures in zoo/models/.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import ZooError


class GrowError(ZooError, ValueError):
    """A growth zoo cannot do: an unsupported pair, a source that is not the model it says."""


# Relative to each copied weight tensor's std. Measured by benchmarks/grow_noise.py on 128
# CIFAR-10 test images (sources with randomised BatchNorm statistics and affines, as no trained
# weights of these sources exist yet): max |logit difference| 6.2e-5 for resnext29_2x64d ->
# resnext29_8x64d (largest |logit| 0.41) and 9.6e-5 for wrn16_8 -> wrn28_10 (0.26), no top-1
# change; 1e-2 moves the logits 10x as far (6.1e-4, 9.7e-4), still no top-1 change.
# resnet18 -> resnet34 and the GE step copy nothing, so noise leaves them exact.
DEFAULT_NOISE = 1e-3


@dataclass(frozen=True)
class Rule:
    """One growth step: ``zoo.models.<function>(source, make_target, noise=, generator=)``.

    The function builds the target with ``make_target(**options)`` (the options it carries over
    from the source), fills it from the source and returns it; its docstring says how. zoo.growth
    calls it; this table is data, so `zoo grow --help` lists the growths without torch.
    """

    source: str
    target: str
    function: str  # "module:function" under zoo.models


RULES = (
    Rule("resnet18", "resnet34", "resnet:deepen_resnet"),
    Rule("resnext29_2x64d", "resnext29_8x64d", "resnext:grow_cardinality"),
    Rule("resnext29_8x64d", "geresnext29_8x64d", "resnext:add_gather_excite"),
    Rule("wrn16_8", "wrn28_10", "wide_resnet:grow_wide_resnet"),
)


def _chains(rules: tuple[Rule, ...]) -> dict[tuple[str, str], tuple[Rule, ...]]:
    """Every rule, and every chain of rules where one's target is the next one's source."""
    chains = {(r.source, r.target): (r,) for r in rules}
    grew = True
    while grew:
        grew = False
        for (start, end), steps in list(chains.items()):
            for rule in rules:
                if rule.source == end and (start, rule.target) not in chains:
                    chains[(start, rule.target)] = (*steps, rule)
                    grew = True
    return chains


GROWTHS = _chains(RULES)


def supported_growths() -> str:
    """The supported growths on one line: ``"resnet18 -> resnet34, ..."``, a chain with its steps."""
    return ", ".join(
        f"{a} -> {b}" + (f" (via {', '.join(r.target for r in steps[:-1])})" if len(steps) > 1 else "")
        for (a, b), steps in GROWTHS.items()
    )
