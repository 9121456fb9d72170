"""Why an applicant got what they got, in plain words, from the engine's notes: "choice 1
(Tokyo, 2 places) was filled by ranks 3 and 9 before your turn at rank 17; you got choice 2"."""

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import ngettext

SHOWN_RANKS = 6  # a long list of ranks ends in "and 40 more"


@dataclass(frozen=True)
class Choice:
    """One choice above the one the applicant got, and what stood in the way."""

    choice: int
    name: str
    places: int
    reason: str  # engine.Reason value
    holders: tuple[int, ...]  # ranks that held the places (of the quota's group, for a quota)
    group: str | None = None  # the quota's unit or degree level, in words


def ranks_text(ranks) -> str:
    ranks = sorted(ranks)
    shown = [str(r) for r in ranks[:SHOWN_RANKS]]
    if len(ranks) > SHOWN_RANKS:
        return _("%(ranks)s and %(num)d more", ranks=", ".join(shown), num=len(ranks) - SHOWN_RANKS)
    if len(shown) == 1:
        return shown[0]
    return _("%(first)s and %(last)s", first=", ".join(shown[:-1]), last=shown[-1])


def _blocked(c: Choice, rank: int) -> str:
    if c.reason == "no_places":
        return _(
            "choice %(choice)d (%(name)s) has no places in this call", choice=c.choice, name=c.name
        )
    places = ngettext("%(num)d place", "%(num)d places", c.places)
    if c.reason == "quota_full":
        return ngettext(
            "choice %(choice)d (%(name)s, %(places)s) had no place left for %(group)s: "
            "the quota was filled by rank %(ranks)s before your turn at rank %(rank)d",
            "choice %(choice)d (%(name)s, %(places)s) had no place left for %(group)s: "
            "the quota was filled by ranks %(ranks)s before your turn at rank %(rank)d",
            len(c.holders),
            choice=c.choice,
            name=c.name,
            places=places,
            group=c.group or "",
            ranks=ranks_text(c.holders),
            rank=rank,
        )
    return ngettext(
        "choice %(choice)d (%(name)s, %(places)s) was filled by rank %(ranks)s before your "
        "turn at rank %(rank)d",
        "choice %(choice)d (%(name)s, %(places)s) was filled by ranks %(ranks)s before your "
        "turn at rank %(rank)d",
        len(c.holders),
        choice=c.choice,
        name=c.name,
        places=places,
        ranks=ranks_text(c.holders),
        rank=rank,
    )


def explanation(
    *,
    rank: int,
    outcome: str,
    choice: int | None,
    placed_name: str | None,
    overridden: bool,
    blocked: list[Choice],
) -> str:
    """The sentence for one applicant, written to them ("you")."""
    if overridden:
        return _(
            "The international office placed you on %(name)s (rank %(rank)d).",
            name=placed_name or "",
            rank=rank,
        )
    parts = [_blocked(c, rank) for c in blocked]
    if outcome == "placed" and choice == 1:
        parts.append(
            _(
                "you got your first choice (%(name)s) at rank %(rank)d",
                name=placed_name or "",
                rank=rank,
            )
        )
    elif outcome == "placed":
        parts.append(
            _("you got choice %(choice)d (%(name)s)", choice=choice or 0, name=placed_name or "")
        )
    elif outcome == "waitlisted":
        parts.append(
            _(
                "you are on the waiting list: a place freed on one of your choices can still reach you"
            )
        )
    else:
        parts.append(_("none of your choices can take you, so you are not placed"))
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "."
