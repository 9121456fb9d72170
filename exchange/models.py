"""Imports every model module, so that metadata (and Alembic) knows all tables."""

from .accounts import models as accounts  # noqa: F401
from .applications import models as applications  # noqa: F401
from .approvals import models as approvals  # noqa: F401
from .calls import models as calls  # noqa: F401
from .catalogue import models as catalogue  # noqa: F401
from .core import audit, cache, heartbeat  # noqa: F401
from .core.cache import VersionedCache, bump_on_write  # noqa: E402
from .mail import models as mail  # noqa: F401
from .notifications import models as notifications  # noqa: F401

# What the office's lists, the approvers' queues, the catalogue's counts and the navigation
# badges show of people, calls, applications and their approval: any committed write to
# these tables gives it a new version (core.cache), and the kept pages of core.pages with it.
casework = VersionedCache("casework")
bump_on_write(
    "casework",
    accounts.Unit,
    accounts.User,
    accounts.UserRole,
    accounts.UnitMembership,
    accounts.StudentProfile,
    accounts.LanguageResult,
    calls.Call,
    calls.CallOffering,
    applications.Application,
    applications.ApplicationChoice,
    applications.ApplicationLanguage,
    applications.Document,
    applications.ApplicationEvent,
    approvals.ApprovalChain,
    approvals.ApprovalStepTemplate,
    approvals.ApplicationStep,
    approvals.Substitution,
    ignoring=(accounts.User.last_login_at,),  # every login writes it; no page shows it
)
