"""Release campaigns: training runs longer than a working session, continued across sessions.

    >>> from zoo import campaign
    >>> plan = campaign.load_plan("campaign.toml")
    >>> campaign.start(plan)                  # detached, niced; `run_foreground(plan)` in this process
    >>> campaign.status(plan).steps           # done / running / stopped / failed / waiting / blocked
    >>> campaign.stop()                       # SIGTERM: the step saves where it stands; `start` resumes
    >>> campaign.publish(plan)                # finished runs -> releases/, manifest, README table

The plan (campaign.toml, see `zoo.campaign.plan`) lists the steps in order; their runs live in
``$ZOO_CAMPAIGN_DIR`` (default: zoo's user cache dir + /campaign), one folder per step, so they
survive a new checkout. docs/campaign.md is the guide.
"""

from .files import CampaignWriteError
from .plan import PLAN_NAME, CampaignError, Plan, Step, load_plan
from .publish import PUSH_LIMIT_BYTES, Published, PublishError, publish
from .runner import CampaignStopped, Started, run_foreground, start
from .runs import CampaignDir, RunFolder, campaign_dir
from .status import CampaignStatus, StepStatus, status
from .stop import Stopped, stop

__all__ = [
    "PLAN_NAME",
    "PUSH_LIMIT_BYTES",
    "CampaignDir",
    "CampaignError",
    "CampaignStatus",
    "CampaignStopped",
    "CampaignWriteError",
    "Plan",
    "PublishError",
    "Published",
    "RunFolder",
    "Started",
    "Step",
    "StepStatus",
    "Stopped",
    "campaign_dir",
    "load_plan",
    "publish",
    "run_foreground",
    "start",
    "status",
    "stop",
]
