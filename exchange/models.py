"""Imports every model module, so that metadata (and Alembic) knows all tables."""

from .accounts import models as accounts  # noqa: F401
from .applications import models as applications  # noqa: F401
from .approvals import models as approvals  # noqa: F401
from .calls import models as calls  # noqa: F401
from .catalogue import models as catalogue  # noqa: F401
from .chains import models as chains  # noqa: F401
from .core import audit, heartbeat  # noqa: F401
from .mail import models as mail  # noqa: F401
from .notifications import models as notifications  # noqa: F401
from .selection import models as selection  # noqa: F401
